"""One batch of parsed records, relayed: planned, written, counted.

The Lambda handler and ``piinguin-relay`` differ only in where records come from and
what they answer; everything between is here, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import structlog

from relay.batching import plan_writes
from relay.connection import Connection
from relay.parse import ParsedRecord
from relay.summary import Summary
from relay.writer import write_plan

log = structlog.get_logger("relay")

#: Malformed records logged one by one per batch; the summary counts them all.
MALFORMED_LOGGED = 100


async def relay_records(
    connection: Connection,
    records: Sequence[ParsedRecord],
    *,
    bulk_size: int,
    concurrency: int,
    deadline: float | None = None,
) -> tuple[Summary, set[str]]:
    """Write the pairs of ``records``, each key once; the batch's counters and the keys
    that need no redelivery (acknowledged, refused for good, or erased). ``deadline`` is in the
    running loop's clock."""
    plan = plan_writes(records)
    outcome = await write_plan(
        connection, plan, bulk_size=bulk_size, concurrency=concurrency, deadline=deadline
    )
    summary = dataclasses.replace(
        Summary.of(records, plan),
        written=len(outcome.acknowledged),
        erased=len(outcome.erased),
        failed=len(plan.pairs) - len(outcome.acknowledged) - len(outcome.erased),
        failures=dict(outcome.failures),
    )
    return summary, outcome.settled


def log_malformed(records: Sequence[ParsedRecord], *, label: str = "sequence_number") -> None:
    """One warning per malformed record (the first ``MALFORMED_LOGGED``), naming it by its
    identifier as ``label`` and giving the reason: never its content."""
    malformed = (r for r in records if r.malformed is not None)
    for record, _ in zip(malformed, range(MALFORMED_LOGGED), strict=False):
        log.warning("relay_malformed", **{label: record.sequence_number}, reason=record.malformed)
