"""The server's figures: Piinguin against the grpcio reference (and, to show the unary
ceiling, a bare grpclib server against it too), one worker against two, and audit on
against audit off. Each row starts its servers, seeds them, checks one call
of each kind, then measures them in interleaved rounds."""

from __future__ import annotations

import statistics
import subprocess

from bench import calls
from bench.harness import BULK, SPREAD, UNARY, Bench
from bench.load import Concurrency
from bench.procs import Cores, venv_script
from bench.results import Goal, Row, interleave, not_available, paired

UNARY_FIGURE = "unary ReadPiiRecord, auth + audit on"
FLOOR_FIGURE = "unary ReadPiiRecord, bare grpclib floor"
REFERENCE = "grpcio reference"


def _read_rounds(
    bench: Bench, measured: int, reference: int, how: Concurrency = UNARY, *, workers: int = 1
) -> list[tuple[float, float]]:
    """Store one record on both servers (on every worker of ``measured``), then measure
    unary reads of it on each, interleaved."""
    call = calls.unary_read()
    # Each worker keeps its own in-memory records, and each connection goes to one worker.
    size = calls.seed(measured, 1, connections=1 if workers == 1 else 32)
    reference_size = calls.seed(reference, 1)
    return interleave(
        bench.rounds,
        lambda: bench.calls_per_s(measured, call, how, size),
        lambda: bench.calls_per_s(reference, call, how, reference_size),
    )


def unary(bench: Bench) -> list[Row]:
    """Piinguin, the bare grpclib floor and the grpcio reference, measured in the same
    interleaved rounds (Piinguin, floor, reference in each), the floor row informational."""
    call = calls.unary_read()
    with (
        bench.piinguin() as piinguin,
        bench.floor() as floor,
        bench.reference() as reference,
    ):
        servers = (piinguin, floor, reference)
        sizes = [calls.seed(port, 1) for port in servers]
        rounds = [
            [
                bench.calls_per_s(port, call, UNARY, size)
                for port, size in zip(servers, sizes, strict=True)
            ]
            for _ in range(bench.rounds)
        ]
    compared_with = f"{REFERENCE} (no auth, no audit)"
    vault = paired(
        "unary",
        UNARY_FIGURE,
        "calls/s",
        compared_with,
        Goal(">= 0.85x", 0.85),
        [(p, r) for p, _, r in rounds],
    )
    floor_rounds = [(f, r) for _, f, r in rounds]
    floor_ratio = statistics.median(f / r for f, r in floor_rounds)  # as paired() takes it
    share = _stack_share(vault.ratio, floor_ratio)
    floor_row = paired(
        "unary-floor",
        FLOOR_FIGURE,
        "calls/s",
        compared_with,
        None,
        floor_rounds,
        _floor_note(vault.ratio, floor_ratio, share),
        {"stack_share_of_gap": share},
    )
    return [vault, floor_row]


def _stack_share(piinguin: float | None, floor: float) -> float | None:
    """Of the time per call Piinguin spends beyond the reference's, the share the floor
    spends too: ``(1/floor - 1) / (1/piinguin - 1)``, from ratios to the reference. Time
    per call, not calls/s, because times add up: Piinguin's call is the floor's call plus
    Piinguin's own work. None when Piinguin is not slower than the reference."""
    if piinguin is None or piinguin >= 1:
        return None
    return (1 / floor - 1) / (1 / piinguin - 1)


def _floor_note(piinguin: float | None, floor: float, share: float | None) -> str:
    text = (
        f"informational: grpclib with Piinguin's codec and trivial handlers (no auth, audit, "
        f"logging or validation), the most a unary read on this stack can reach: {floor:.2f}x "
        "of the reference"
    )
    if share is None or piinguin is None:
        return text + "; Piinguin is not slower than the reference, so there is no gap to share"
    if share <= 0:
        return text + "; the floor is not slower than the reference: the gap is Piinguin's own"
    if share >= 1:
        return text + "; the floor is no faster than Piinguin here: the whole gap is the stack's"
    return text + (
        f". Per call, Piinguin takes {1 / piinguin:.2f}x the reference's time and the floor "
        f"{1 / floor:.2f}x: {share:.0%} of Piinguin's extra time is the HTTP/2 stack "
        f"(grpclib, h2, hpack, hyperframe, asyncio, the codec), {1 - share:.0%} Piinguin's "
        "own work (auth, audit, logging, validation)"
    )


def workers(bench: Bench) -> list[Row]:
    figure = "unary ReadPiiRecord, --workers 2"
    goal = Goal(">= 1.8x", 1.8)
    help_text = subprocess.run(
        [venv_script("piinguin-server"), "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--workers" not in help_text:
        return [
            not_available(
                "workers", figure, "Piinguin, 1 worker", goal, "piinguin-server has no --workers"
            )
        ]
    two = Cores.split(2)
    with (
        bench.piinguin("--workers", "2", cores=two.server) as multi,
        bench.piinguin() as single,
    ):
        rounds = _read_rounds(bench, multi, single, SPREAD, workers=2)
    notes = "" if not two.shared else "2 workers share this machine's cores with the load"
    return [paired("workers", figure, "calls/s", "Piinguin, 1 worker", goal, rounds, notes)]


def bulk(bench: Bench) -> list[Row]:
    """CreatePiiRecords and ReadPiiRecords of ``bulk_items`` records, in records/s."""
    count = bench.sizes.bulk_items
    create, read = calls.bulk_create(count), calls.bulk_read(count)
    with bench.piinguin() as piinguin, bench.reference() as reference:
        servers = (piinguin, reference)
        for port in servers:
            calls.seed(port, count)
        expected = {(c.method, p): calls.probe(p, c) for c in (create, read) for p in servers}

        def records_per_s(port: int, call: calls.Call) -> float:
            per_s = bench.calls_per_s(port, call, BULK, expected[call.method, port])
            return per_s * call.items

        create_rounds, read_rounds = [], []
        for _ in range(bench.rounds):
            create_rounds.append(
                (records_per_s(piinguin, create), records_per_s(reference, create))
            )
            read_rounds.append((records_per_s(piinguin, read), records_per_s(reference, read)))
    goal = Goal(">= 0.5x", 0.5)
    return [
        paired(
            "bulk-create",
            f"bulk CreatePiiRecords, {count} a call",
            "records/s",
            REFERENCE,
            goal,
            create_rounds,
        ),
        paired(
            "bulk-read",
            f"bulk ReadPiiRecords, {count} a call",
            "records/s",
            REFERENCE,
            goal,
            read_rounds,
        ),
    ]


def audit(bench: Bench) -> list[Row]:
    """The same in-process server with the in-memory audit store and with a no-op one."""
    with (
        bench.vault("audit-on", "--audit", "memory") as on,
        bench.vault("audit-off", "--audit", "none") as off,
    ):
        rounds = _read_rounds(bench, on, off)
    return [
        paired(
            "audit",
            "unary reads, audit on (memory store)",
            "calls/s",
            "audit off (no-op store)",
            Goal(">= 0.9x", 0.9),
            rounds,
        )
    ]
