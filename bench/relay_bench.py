"""The relay on a full Kinesis batch: 10,000 records through ``Relay.invoke`` to a server.

    python -m bench.relay_bench [--records 10000] [--target HOST:PORT]

Without ``--target`` it starts ``piinguin-server`` (in-memory storage) in a process of
its own, so the server's work is not counted as the relay's. Reports the cold
invocation (connecting included), the median warm one, records per second, and the
peak of memory the relay allocates for a batch (tracemalloc, in a separate warm run,
since tracing slows everything down) besides the process's peak resident size.

The tests run ``measure`` on a few records only; the figures here come from this command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from piinguin.cli.healthcheck import check
from relay.config import RelayConfig
from relay.handler import Relay
from relay.parse import parse_event
from tests.relay.factory import (
    json_item,
    kinesis_record,
    lambda_event,
    page_view_line,
    pii_line,
    pojo_item,
)

WARM_RUNS = 3


@dataclass(frozen=True)
class Figures:
    records: int
    pairs: int
    reported: int
    cold_ms: float
    warm_ms: float
    records_per_s: float
    traced_peak_mb: float
    peak_rss_mb: float


def batch(records: int, users: int | None = None) -> dict[str, Any]:
    """A Lambda event of ``records``: PII events of three pairs about one of ``users``
    (a quarter as many as records, so keys repeat across records, as in a real stream),
    and one page view in ten."""
    users = users or max(1, records // 4)
    built = []
    for n in range(records):
        user = n % users
        if n % 10 == 9:
            line = page_view_line()
        else:
            line = pii_line(
                [
                    pojo_item("user_id", f"customer{user:06d}@example.com"),
                    pojo_item("user_ipaddress", f"10.0.{user >> 8 & 255}.{user & 255}"),
                ],
                [json_item("contexts", f"customer{user:06d}@mail.example.org")],
            )
        built.append(kinesis_record(line, n))
    return lambda_event(*built)


def measure(target: str, records: int = 10_000) -> Figures:
    """Invoke one relay on a batch of ``records``: once cold, then warm."""
    event = batch(records)
    relay = Relay(RelayConfig(target=target, timeout_sec=30))
    try:
        cold, answer = _timed(relay, event)
        warm = [_timed(relay, event)[0] for _ in range(WARM_RUNS)]
        tracemalloc.start()
        try:
            relay.invoke(event, 600_000)
            _, traced_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        relay.close()
    pairs = sum(len(record.pairs) for record in parse_event(event))
    warm_s = statistics.median(warm)
    return Figures(
        records=records,
        pairs=pairs,
        reported=len(answer["batchItemFailures"]),
        cold_ms=round(cold * 1000, 1),
        warm_ms=round(warm_s * 1000, 1),
        records_per_s=round(records / warm_s),
        traced_peak_mb=round(traced_peak / 2**20, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def _timed(relay: Relay, event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    answer = relay.invoke(event, 600_000)
    return time.perf_counter() - start, answer


@contextmanager
def server() -> Iterator[str]:
    """``piinguin-server`` on a free port, in-memory, until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [str(Path(sys.executable).parent / "piinguin-server"), "--port", str(port)]
    argv += ["--storage", "memory", "--insecure-no-auth", "--log-level", "warning"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=os.environ.copy())
    target = f"127.0.0.1:{port}"
    try:
        asyncio.run(_wait_serving(target, process))
        yield target
    finally:
        process.terminate()
        process.wait(30)


async def _wait_serving(target: str, process: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(60):
        while process.poll() is None:
            try:
                if await check(target, timeout=1) == "SERVING":
                    return
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"piinguin-server exited with {process.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_bench")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--target", help="a running server; default: start one")
    args = parser.parse_args()
    if args.target:
        figures = measure(args.target, args.records)
    else:
        with server() as target:
            figures = measure(target, args.records)
    print(json.dumps(asdict(figures)))


if __name__ == "__main__":
    main()
