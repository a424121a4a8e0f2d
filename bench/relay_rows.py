"""The relay's figures: parsing against the Snowplow analytics SDK, the Lambda handler on
a whole batch, and the DynamoDB requests a batch costs through the server."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.calls import TOKEN
from bench.events import PAIRS_PER_EVENT, kinesis_event, pii_lines
from bench.harness import Bench
from bench.procs import free_port, python, venv_script
from bench.results import Goal, Row, interleave, not_available, paired
from relay import parse_line

BATCH_WRITE_LIMIT = 25


def parse(bench: Bench) -> list[Row]:
    """``relay.parse_line`` against the SDK's ``transform``, in this process."""
    figure = "relay parse + extract"
    compared_with = "snowplow_analytics_sdk transform"
    goal = Goal(">= 3x", 3.0)
    try:
        transform = importlib.import_module("snowplow_analytics_sdk.event_transformer").transform
    except ImportError:
        why = "snowplow_analytics_sdk missing: pip install -e '.[bench]'"
        return [not_available("relay-parse", figure, compared_with, goal, why)]
    lines = pii_lines(bench.sizes.parse_events, users=max(1, bench.sizes.parse_events // 4))
    for line in lines:
        pairs = parse_line(line)
        if not isinstance(pairs, tuple) or len(pairs) != PAIRS_PER_EVENT:
            raise RuntimeError(f"the relay did not read a benchmark event: {pairs!r}")
        if transform(line)["event_name"] != "pii_transformation":
            raise RuntimeError("the SDK did not read a benchmark event")

    def events_per_s(function: Callable[[str], object]) -> float:
        done, start = 0, time.perf_counter()
        while True:
            for line in lines:
                function(line)
            done += len(lines)
            elapsed = time.perf_counter() - start
            if elapsed >= bench.seconds:
                return done / elapsed

    rounds = interleave(
        bench.rounds, lambda: events_per_s(parse_line), lambda: events_per_s(transform)
    )
    return [paired("relay-parse", figure, "events/s", compared_with, goal, rounds)]


def _handler_available() -> bool:
    return importlib.util.find_spec("relay.handler") is not None


def _event_file(bench: Bench, name: str, events: int, users: int) -> Path:
    path = bench.workdir / f"{name}.json"
    path.write_text(json.dumps(kinesis_event(pii_lines(events, users))))
    return path


def _drive(
    bench: Bench, port: int, event: Path, *, pure: bool = False, invocations: int = 1
) -> dict[str, Any]:
    """One process of ``bench.relay_driver`` against the server on ``port``; its report."""
    argv = python(
        "relay_driver", "--event", str(event), "--invocations", str(invocations),
        *(["--pure"] if pure else []),
    )  # fmt: skip
    env = {"PIINGUIN_TARGET": f"127.0.0.1:{port}", "PIINGUIN_TOKEN": TOKEN}
    proc = bench.procs.start("relay", argv, cores=bench.cores.load, stdout=-1, env=env)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        code = bench.procs.stop(proc)
    lines = out.strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"the relay exited with {code}: {bench.procs.stderr_tail(proc)}")
    report: dict[str, Any] = json.loads(lines[-1])
    if report["failures"]:
        raise RuntimeError(f"the relay reported {report['failures']} batchItemFailures")
    return report


def handler(bench: Bench) -> list[Row]:
    """``relay.handler.handler`` on one batch, in its own process, to ``piinguin-server``:
    per round a fresh process invoked once cold and twice warm. Events/s is the median
    warm invocation, as most batches meet a warm Lambda; the cold ones are in the notes.
    No reference: the goals are absolute."""
    records = bench.sizes.handler_records
    speed_figure = f"relay handler, {records:,}-record batch, to the server"
    memory_figure = "relay handler process, peak memory (ru_maxrss)"
    speed_goal = Goal(">= 20,000 events/s", 20_000)
    memory_goal = Goal("<= 128 MB", 128, at_least=False)
    if not _handler_available():
        why = "src/relay/handler.py is not there yet"
        return [
            not_available("relay-handler", speed_figure, "-", speed_goal, why),
            not_available("relay-memory", memory_figure, "-", memory_goal, why),
        ]
    event = _event_file(bench, "handler-batch", records, users=max(1, records // 4))
    with bench.piinguin() as port:
        runs = [_drive(bench, port, event, invocations=3) for _ in range(bench.rounds)]
    rates = [records / seconds for run in runs for seconds in run["seconds"][1:]]
    cold = statistics.median(records / run["seconds"][0] for run in runs)
    peaks = [run["peak_rss_mb"] for run in runs]
    loaded = max(run["loaded_rss_mb"] for run in runs)
    size = event.stat().st_size / 2**20
    return [
        Row(
            "relay-handler",
            speed_figure,
            "events/s",
            "-",
            speed_goal,
            value=statistics.median(rates),
            goal_on_value=True,
            rounds=[(rate, None) for rate in rates],
            notes=f"warm; cold (a new process's first batch): {cold:,.0f} events/s. "
            f"{PAIRS_PER_EVENT} pairs an event, {records // 4:,} users: {records:,} unique "
            "pairs; in-memory server, auth on",
        ),
        Row(
            "relay-memory",
            memory_figure,
            "MB",
            "-",
            memory_goal,
            value=max(peaks),
            goal_on_value=True,
            rounds=[(peak, None) for peak in peaks],
            notes=f"the worst round; the event is {size:.1f} MB of JSON (Lambda caps "
            f"payloads at 6 MB) and the process holds {loaded:.0f} MB once it is loaded",
        ),
    ]


@contextlib.contextmanager
def moto(bench: Bench) -> Iterator[str]:
    """A moto server on the load's cores; its endpoint URL."""
    port = free_port()
    argv = [venv_script("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    proc = bench.procs.start("moto", argv, cores=bench.cores.load)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = bench.procs.stderr_tail(proc)
                    raise RuntimeError(f"moto did not start: {tail}") from None
                time.sleep(0.05)
        yield url
    finally:
        bench.procs.stop(proc)


def dynamodb(bench: Bench) -> list[Row]:
    """DynamoDB requests for a batch of ``dynamodb_pairs`` unique pairs, each carried by
    two events: relay -> Piinguin (in-process, requests counted) -> moto."""
    pairs = bench.sizes.dynamodb_pairs
    users = pairs // PAIRS_PER_EVENT
    writes_goal = math.ceil(pairs / BATCH_WRITE_LIMIT)
    pure = not _handler_available()
    event = _event_file(bench, "dynamodb-batch", 2 * users, users)
    counts_file = bench.workdir / "dynamodb-counts.json"
    with moto(bench) as url:
        flags = ("--dynamodb", url, "--counts", str(counts_file))
        with bench.vault("vault-dynamodb", *flags) as port:
            _drive(bench, port, event, pure=pure)  # one invocation: its requests are counted
    counts: dict[str, int] = json.loads(counts_file.read_text())
    writes, reads = counts.get("BatchWriteItem", 0), counts.get("BatchGetItem", 0)
    via = "the relay's pure half + PiinguinClient (no handler yet)" if pure else "the handler"
    notes = (
        f"{writes} BatchWriteItem + {reads} BatchGetItem (createdAt and erasure markers; the "
        "markers again after the writes), "
        f"{counts.get('PutItem', 0)} PutItem; relay run through {via}"
    )
    return [
        paired(
            "dynamodb",
            f"DynamoDB writes for {pairs:,} unique pairs",
            "requests",
            "one PutItem per pair",
            Goal(f"<= {writes_goal} BatchWriteItem", writes_goal, at_least=False),
            [(float(writes), float(pairs))],
            notes=notes,
            extra={"requests": counts},
            goal_on_value=True,
        )
    ]
