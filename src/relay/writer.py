"""A batch's writes: its plan's pairs as bulk calls, a few in flight, until a deadline.

The one async step between the pure half and the server, shared by the Lambda handler
and ``piinguin-relay``. A key counts as written only when the server answered OK for
it. A pair the server refused as INVALID_ARGUMENT is refused for good: no redelivery
can mend it, and reporting its records would stall the shard on them (the relay checks
pairs against the server's limits first, so this takes a server whose limits differ).
Everything else (another item error, a failed call, a call still unanswered at the
deadline, a request never sent) leaves the key unacknowledged, and its records are
reported for redelivery. A pair the server answered as erased (FAILED_PRECONDITION,
"erased ...": its data subject's records were erased for good, GDPR Art. 17) is done:
the server will never store it, by design, and redelivering it would only stall the
shard; it is counted apart, never as a failure.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from grpclib.const import Status

from piinguin.client import ItemResult, PiinguinError, PiiRecord, Unavailable
from relay.batching import WritePlan
from relay.connection import Connection
from relay.extract import Pair

log = structlog.get_logger("relay")

#: Tries of a bulk call in all, when it fails as ``Unavailable``: each retry goes over a
#: new connection (see ``relay.connection``).
ATTEMPTS = 2
#: The failure reason of pairs whose call had not answered, or was never sent, by the
#: deadline.
DEADLINE = "deadline"


@dataclass(slots=True)
class PlanOutcome:
    """What the server acknowledged, what it refused for good, what it would not store
    because its subject was erased, and why the rest was not written (pairs by reason: a
    gRPC status name, or ``DEADLINE``; refused pairs count as ``INVALID_ARGUMENT``,
    erased ones nowhere but ``erased``)."""

    acknowledged: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def settled(self) -> set[str]:
        """The keys whose records need no redelivery."""
        return self.acknowledged | self.refused | self.erased


def to_record(pair: Pair) -> PiiRecord:
    # A Pair's fields are named after PiiRecord's, on purpose.
    return PiiRecord(**pair._asdict())


async def write_plan(
    connection: Connection,
    plan: WritePlan,
    *,
    bulk_size: int,
    concurrency: int,
    deadline: float | None = None,
) -> PlanOutcome:
    """Send ``plan`` in bulk calls of ``bulk_size`` pairs, ``concurrency`` at most in flight.

    ``deadline`` is in the running loop's clock (``loop.time()``); at the deadline calls
    in flight are cancelled and no more are sent. ``None``: no deadline.
    """
    outcome = PlanOutcome()
    if not plan.pairs:
        return outcome
    if deadline is not None and deadline <= asyncio.get_running_loop().time():
        outcome.failures[DEADLINE] = len(plan.pairs)
        log.warning("relay_deadline", unanswered=len(plan.pairs))
        return outcome
    requests = iter(plan.requests(bulk_size))

    async def worker() -> None:
        # Workers share one iterator: a bound on calls in flight, without a task (and a
        # built request) waiting per bulk call.
        for pairs in requests:
            await _send(connection, pairs, outcome)

    workers = min(concurrency, -(-len(plan.pairs) // bulk_size))
    try:
        async with asyncio.timeout_at(deadline), asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
    except TimeoutError:
        answered = len(outcome.acknowledged) + len(outcome.erased) + outcome.failures.total()
        unanswered = len(plan.pairs) - answered
        outcome.failures[DEADLINE] += unanswered
        log.warning("relay_deadline", unanswered=unanswered)
    return outcome


async def _send(connection: Connection, pairs: Sequence[Pair], outcome: PlanOutcome) -> None:
    try:
        results = await _create_records(connection, [to_record(pair) for pair in pairs])
    except PiinguinError as exc:
        # Client and server messages never carry an original value.
        log.error("relay_call_failed", status=exc.status.name, error=exc.message, pairs=len(pairs))
        outcome.failures[exc.status.name] += len(pairs)
        return
    for pair, result in zip(pairs, results, strict=True):
        if result.ok:
            outcome.acknowledged.add(pair.modified_value)
            continue
        if result.erased:
            outcome.erased.add(pair.modified_value)
            continue
        outcome.failures[result.status.name] += 1
        if result.status is Status.INVALID_ARGUMENT:
            outcome.refused.add(pair.modified_value)
            # The server's message names the field and the limit, never the value.
            log.warning("relay_pair_refused", error=result.message)


async def _create_records(connection: Connection, records: list[PiiRecord]) -> list[ItemResult]:
    for _ in range(ATTEMPTS - 1):
        client = await connection.client()
        try:
            return await client.create_records(records)
        except Unavailable as exc:
            log.info("relay_call_retried", error=exc.message, pairs=len(records))
            await connection.replace(client)
    return await (await connection.client()).create_records(records)
