"""The audit table's figures: write units per read and the hottest partition's share, for
the sharded layout against the first one, from ``bench.audit_capacity``'s simulation on
moto (a server process on the load's cores)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioboto3

from bench.audit_capacity import (
    BULK,
    REFUSED,
    SINGLE,
    Figures,
    Mix,
    legacy_figures,
    mix_events,
    simulate,
)
from bench.harness import Bench
from bench.relay_rows import moto
from bench.results import Goal, Row, paired
from storage.dynamodb.sizes import MAX_ITEM_BYTES

#: Items a simulation table holds at most: moto sorts a whole table for every Query.
TABLE_ITEMS = 4_000
#: The first table of each phase has its events checked by time range, principal and
#: this many keys: the suite checks every event of its scaled-down mix by every key.
CHECKED_KEYS = 50


async def _measure(endpoint: str, mix: Mix) -> tuple[Figures, Figures]:
    session = aioboto3.Session(
        region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    events = mix_events(mix)
    async with session.client("dynamodb", endpoint_url=endpoint) as client:
        after = await simulate(
            client, mix, events, most_items=TABLE_ITEMS, checked_tables=1,
            checked_keys=CHECKED_KEYS,
        )  # fmt: skip
    return after, legacy_figures(mix, events)


def _describe(figures: Figures) -> str:
    hottest, share = figures.hottest([SINGLE])
    lines = [
        f"{figures.layout} layout: {figures.items:,} items, largest "
        f"{figures.largest_item / 1024:,.1f} KB; single read {figures.per_single_read:.2f} "
        f"WCU, bulk read {figures.per_bulk_read:,.1f} WCU; hottest during single reads "
        f"{hottest} {share:.1%}; events not stored: {figures.not_stored or 'none'}",
        "  partitions taking the most write units, whole mix (pk, items, WCU):",
    ]
    lines += [
        f"    {pk[:60]:<60} {items:>7,} {units:>9,}"
        for pk, items, units in figures.top([SINGLE, BULK, REFUSED])
    ]
    return "\n".join(lines)


def capacity(bench: Bench) -> list[Row]:
    """Both layouts, the same events; the figures counted from what landed."""
    mix = bench.sizes.audit_mix
    started = time.monotonic()
    with moto(bench) as url:
        after, before = asyncio.run(_measure(url, mix))
    if after.problems:
        raise RuntimeError(f"events not found as written: {after.problems[:5]}")
    if after.largest_item > MAX_ITEM_BYTES or after.not_stored:
        raise RuntimeError("an event of the sharded layout was not stored whole")
    print(f"\n{_describe(after)}\n{_describe(before)}", flush=True)
    hottest, share = after.hottest([SINGLE])
    _, share_before = before.hottest([SINGLE])
    whole_pk, whole_share = after.hottest([SINGLE, BULK, REFUSED])
    mix_text = (
        f"{mix.single_reads:,} single reads from {mix.principals} principals, "
        f"{mix.bulk_reads} bulk reads of {mix.bulk_keys} keys, {mix.refused_calls} refused "
        f"calls naming {mix.refused_keys:,} keys of {mix.refused_key_bytes} bytes"
    )
    extra: dict[str, Any] = {
        "mix": mix_text,
        "seconds": round(time.monotonic() - started, 1),
        "after": {"units": after.units, "items": after.items, "largest": after.largest_item},
        "before": {"units": before.units, "not_stored": before.not_stored},
    }
    first = "first layout (whole events in DAY# and PRINCIPAL#)"
    stored_before = mix.refused_calls - before.not_stored.get(REFUSED, 0)
    return [
        paired(
            "audit-single",
            "audit WCU per single read (DynamoDB, index writes included)",
            "WCU",
            first,
            Goal("<= 3 WCU", 3, at_least=False),
            [(after.per_single_read, before.per_single_read)],
            notes=f"{mix_text}; counted from scans of what landed (the first layout from "
            "its items' sizes); the first table of each phase checked: every event found "
            f"once by time range and principal, and by {CHECKED_KEYS} keys; no secondary "
            "index",
            extra=extra,
            goal_on_value=True,
        ),
        paired(
            "audit-bulk",
            f"audit WCU per key of a {mix.bulk_keys}-key bulk read",
            "WCU",
            first,
            Goal("<= 1.1 WCU", 1.1, at_least=False),
            [(after.per_bulk_key, before.per_bulk_key)],
            notes=f"{after.per_bulk_read:,.1f} WCU a bulk read ({before.per_bulk_read:,.1f} "
            f"before); the first layout stored {stored_before} "
            f"of the {mix.refused_calls} refused calls, this one all, its largest item "
            f"{after.largest_item / 1024:,.0f} KB",
            goal_on_value=True,
        ),
        paired(
            "audit-partition",
            "hottest partition's share of audit WCU, single reads",
            "%",
            first,
            Goal("<= 12.5%", 12.5, at_least=False),
            [(100 * share, 100 * share_before)],
            notes=f"{hottest} ({whole_pk} {whole_share:.1%} over the whole mix)",
            goal_on_value=True,
        ),
    ]
