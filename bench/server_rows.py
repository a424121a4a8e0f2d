"""The server's figures: Piinguin against the grpcio reference (and, to show the unary
ceiling, a bare grpclib server against it too), metrics on against off, one worker against
two, and audit on against audit off. Each row starts its servers, seeds them, checks one call
of each kind, then measures them in interleaved rounds."""

from __future__ import annotations

import statistics
import subprocess

from bench import calls
from bench.harness import BULK, SPREAD, UNARY, Bench
from bench.load import Concurrency
from bench.procs import Cores, free_port, venv_script
from bench.results import Goal, Row, interleave, not_available, paired

UNARY_FIGURE = "unary ReadPiiRecord, auth + audit on"
FLOOR_FIGURE = "unary ReadPiiRecord, bare grpclib floor"
METRICS_FIGURE = "unary ReadPiiRecord, `--metrics-port` on"
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
    """Piinguin, Piinguin with metrics on, the bare grpclib floor and the grpcio reference,
    measured in the same interleaved rounds (in that order, metrics on first every other
    round); the floor row is informational, the metrics row compares Piinguin with itself."""
    call = calls.unary_read()

    def measure(port: int, size: int) -> tuple[float, float]:
        """Calls/s, and the server's CPU seconds per call (its warm-up's CPU included)."""
        cpu = bench.server_cpu_s(port)
        per_s = bench.calls_per_s(port, call, UNARY, size)
        return per_s, (bench.server_cpu_s(port) - cpu) / (per_s * bench.seconds)

    with (
        bench.piinguin() as piinguin,
        bench.piinguin("--metrics-port", str(free_port())) as metered,
        bench.floor() as floor,
        bench.reference() as reference,
    ):
        servers = (piinguin, metered, floor, reference)
        sizes = [calls.seed(port, 1) for port in servers]
        measured = []
        for i in range(bench.rounds):
            # Metrics off and on swap places every other round: neither always goes first.
            order = (0, 1, 2, 3) if i % 2 == 0 else (1, 0, 2, 3)
            results = {at: measure(servers[at], sizes[at]) for at in order}
            measured.append([results[at] for at in range(len(servers))])
    rounds = [[per_s for per_s, _ in round_] for round_ in measured]
    compared_with = f"{REFERENCE} (no auth, no audit)"
    vault = paired(
        "unary",
        UNARY_FIGURE,
        "calls/s",
        compared_with,
        Goal(">= 0.85x", 0.85),
        [(p, r) for p, _, _, r in rounds],
    )
    metrics_row = paired(
        "unary-metrics",
        METRICS_FIGURE,
        "calls/s",
        "the same, metrics off",
        Goal(">= 0.97x", 0.97),
        [(m, p) for p, m, _, _ in rounds],
        *_cpu_note([(on[1], off[1]) for off, on, _, _ in measured]),
    )
    floor_rounds = [(f, r) for _, _, f, r in rounds]
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
    return [vault, metrics_row, floor_row]


def _cpu_note(rounds: list[tuple[float, float]]) -> tuple[str, dict[str, object]]:
    """The metrics row's note and extra figures, from each round's server CPU per call
    (on, off). A clock tick is 10 ms: very short rounds may measure none."""
    ratios = [on / off for on, off in rounds if on > 0 and off > 0]
    if not ratios:
        return "server CPU per call: rounds too short to measure", {}
    ratio = statistics.median(ratios)
    note = (
        f"server CPU time per call, metrics on over off: {ratio:.3f}x (rounds "
        f"{min(ratios):.3f}x to {max(ratios):.3f}x): the cost itself, which other processes "
        "taking the cores do not move as they move calls/s"
    )
    return note, {"cpu_per_call_ratio": ratio, "cpu_per_call_ratio_rounds": ratios}


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
    """CreatePiiRecords and ReadPiiRecords of ``bulk_items`` records, in records/s.

    The server stack against the reference, without encryption at rest: these rows were
    defined before it existed and measure the RPC path; what encryption costs on top is
    its own rows (``bench.encryption_rows``, on against off in the same rounds)."""
    count = bench.sizes.bulk_items
    create, read = calls.bulk_create(count), calls.bulk_read(count)
    with bench.piinguin("--insecure-no-encryption") as piinguin, bench.reference() as reference:
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
            f"bulk CreatePiiRecords, {count} a call, encryption off",
            "records/s",
            REFERENCE,
            goal,
            create_rounds,
        ),
        paired(
            "bulk-read",
            f"bulk ReadPiiRecords, {count} a call, encryption off",
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
