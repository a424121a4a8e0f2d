"""The server's figures: Piinguin against the grpcio reference, one worker against two,
and audit on against audit off. Each row starts its servers, seeds them, checks one call
of each kind, then measures them in interleaved rounds."""

from __future__ import annotations

import subprocess

from bench import calls
from bench.load import Concurrency
from bench.procs import Cores, venv_script
from bench.results import Goal, Row, interleave, not_available, paired
from bench.setup import BULK, SPREAD, UNARY, Bench

UNARY_FIGURE = "unary ReadPiiRecord, auth + audit on"
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
    with bench.piinguin() as piinguin, bench.reference() as reference:
        rounds = _read_rounds(bench, piinguin, reference)
    return [
        paired(
            "unary",
            UNARY_FIGURE,
            "calls/s",
            f"{REFERENCE} (no auth, no audit)",
            Goal(">= 0.85x", 0.85),
            rounds,
        )
    ]


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
