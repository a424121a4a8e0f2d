"""Where a Piinguin server's time goes under load: py-spy samples of ``piinguin-server``
on the unary and bulk paths, summed by package and by function.

``python -m bench --profile`` writes ``bench/results/profile-<path>.txt`` (the summary)
and ``.raw`` (py-spy's collapsed stacks, for flamegraph.pl or speedscope). py-spy reads
the server's memory with ptrace: it needs root or ``CAP_SYS_PTRACE``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from bench import calls
from bench.harness import BULK, UNARY, Bench
from bench.load import Concurrency
from bench.procs import BIN

TOP = 15
SECONDS = 5  # at 100 samples a second, enough for shares to about a percent


def paths(bench: Bench) -> list[tuple[str, calls.Call, Concurrency, int]]:
    count = bench.sizes.bulk_items
    return [
        ("unary-read", calls.unary_read(), UNARY, 1),
        ("bulk-read", calls.bulk_read(count), BULK, count),
        ("bulk-create", calls.bulk_create(count), BULK, count),
    ]


def profile(bench: Bench, out_dir: Path) -> list[str]:
    """Profile each path once; one summary line per path (or why none was made)."""
    py_spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if py_spy is None:
        return ["profile: py-spy is not installed (pip install -e '.[bench]')"]
    lines = []
    for name, call, how, seeded in paths(bench):
        raw = out_dir / f"profile-{name}.raw"
        with bench.piinguin() as port:
            calls.seed(port, seeded)
            expected = calls.probe(port, call)
            argv = [
                py_spy, "record", "--pid", str(bench.pids[port]), "--rate", "100",
                "--duration", str(SECONDS), "--format", "raw",
                "--function", "--output", str(raw),
            ]  # fmt: skip
            spy = bench.procs.start("py-spy", argv, cores=bench.cores.load)
            try:
                bench.load.measure(port, call, SECONDS + 1, how).check(expected, name)
                spy.wait(timeout=60)
            finally:
                bench.procs.stop(spy)
        if not raw.exists():
            lines.append(f"profile {name}: py-spy failed: {bench.procs.stderr_tail(spy, 2)}")
            continue
        summary = summarize(raw.read_text())
        (out_dir / f"profile-{name}.txt").write_text(summary)
        lines.append(f"profile {name}: {out_dir / f'profile-{name}.txt'}")
    return lines


def _module(frame: str) -> str:
    """``recv_request (grpclib/events.py:212)`` -> ``grpclib/events.py``."""
    return frame.rpartition(" (")[2].removesuffix(")").rpartition(":")[0]


def _package(frame: str) -> str:
    """``recv_request (grpclib/events.py:212)`` -> ``grpclib``."""
    return _module(frame).split("/", 1)[0].removesuffix(".py")


def summarize(collapsed: str) -> str:
    """Self time by package, module and function, and inclusive time by function, as
    shares of all samples (idle time is not sampled)."""
    own: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        modules[_module(frames[-1])] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples\n"

    def block(title: str, counter: Counter[str], skip_above: float = 1.01) -> list[str]:
        rows = [(n / total, key) for key, n in counter.most_common() if n / total < skip_above]
        return [title, *(f"  {share:6.1%}  {key}" for share, key in rows[:TOP]), ""]

    return "\n".join(
        [
            f"{total} samples",
            "",
            *block("self time by package", packages),
            *block("self time by module", modules),
            *block("self time by function", own),
            # Frames on every stack (the event loop, grpclib's handler) say nothing.
            *block("inclusive time by function (below 95%)", inclusive, skip_above=0.95),
        ]
    )
