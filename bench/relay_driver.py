"""Runs the relay on one Lambda Kinesis event, in its own process, as Lambda would:
the event is read as JSON from a file, then handed to ``relay.handler.handler``, once
cold and ``--invocations - 1`` more times warm (the same process, as Lambda reuses it)::

    PIINGUIN_TARGET=host:port PIINGUIN_TOKEN=... python -m bench.relay_driver --event FILE

``--pure`` runs the relay's pure half (``parse_event``, ``plan_writes``) with
``PiinguinClient.create_records`` instead, once, for when the handler is not there yet.
Prints ``{"seconds", "records", "failures", "peak_rss_mb", "loaded_rss_mb", "mode"}``:
each invocation's wall time, the records it was given, the most ``batchItemFailures``
of any invocation, the process's peak resident memory, and its resident memory once
the event was loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from piinguin.client import PiinguinClient, PiiRecord
from relay import batch_item_failures, parse_event, plan_writes


class Context:
    """The parts of Lambda's context object a handler may use."""

    function_name = "piinguin-relay-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:piinguin-relay-bench"
    memory_limit_in_mb = "128"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/piinguin-relay-bench"
    log_stream_name = "bench"

    def __init__(self, budget_ms: int = 300_000) -> None:
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def handler_runner() -> Callable[[dict[str, Any]], int]:
    """The Lambda handler, imported now: its import is cold start, not batch time."""
    from relay.handler import handler

    def run(event: dict[str, Any]) -> int:
        response = handler(event, Context())
        return len(response["batchItemFailures"])

    return run


def run_pure(event: dict[str, Any]) -> int:
    return asyncio.run(_pure(event))


async def _pure(event: dict[str, Any]) -> int:
    records = parse_event(event)
    plan = plan_writes(records)
    acknowledged: set[str] = set()
    async with PiinguinClient(
        os.environ["PIINGUIN_TARGET"], token=os.environ["PIINGUIN_TOKEN"]
    ) as client:
        for chunk in plan.requests(500):
            results = await client.create_records([PiiRecord(**pair._asdict()) for pair in chunk])
            acknowledged.update(
                pair.modified_value
                for pair, result in zip(chunk, results, strict=True)
                if result.ok
            )
    return len(batch_item_failures(records, acknowledged))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_driver")
    parser.add_argument("--event", required=True)
    parser.add_argument("--pure", action="store_true", help="the pure half and the client")
    parser.add_argument("--invocations", type=int, default=1, help="the first one is cold")
    args = parser.parse_args()
    run = run_pure if args.pure else handler_runner()
    event = json.loads(Path(args.event).read_bytes())
    loaded = _rss_mb()
    seconds, failures = [], 0
    for _ in range(1 if args.pure else args.invocations):
        start = time.perf_counter()
        failures = max(failures, run(event))
        seconds.append(time.perf_counter() - start)
    report = {
        "seconds": seconds,
        "records": len(event["Records"]),
        "failures": failures,
        "peak_rss_mb": _peak_rss_mb(),
        "loaded_rss_mb": loaded,
        "mode": "pure" if args.pure else "handler",
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
