"""The audit table under a realistic mix, scaled down from ``make bench``'s: where the
write units land, what a read costs, and that every event is found again. What landed is
read with Scan (``bench.audit_capacity``), against moto in server mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bench.audit_capacity import (
    BULK,
    REFUSED,
    SINGLE,
    Mix,
    legacy_figures,
    mix_events,
    simulate,
    simulate_legacy,
)
from storage.dynamodb.sizes import MAX_ITEM_BYTES

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

#: Single reads from 5 principals, bulk reads, and a refused call naming keys of 490 bytes;
#: moto sorts the whole table for each of the checks' queries, hence small numbers. The
#: full mix is ``make bench``'s; 1,000 keys of 490 bytes in one event, test_audit.py's.
SCALED = Mix(
    single_reads=200, bulk_reads=2, bulk_keys=30, refused_calls=1, refused_keys=30, key_pool=60
)


async def test_no_partition_runs_hot_and_every_event_is_found_once(
    dynamodb: DynamoDBClient,
) -> None:
    # All in one table, every event checked by each of its keys, principal and time.
    figures = await simulate(dynamodb, SCALED, mix_events(SCALED))

    hottest, share = figures.hottest([SINGLE])
    assert share <= 1 / 8, (hottest, share)
    assert figures.hottest([SINGLE, BULK, REFUSED])[1] <= 1 / 8
    assert figures.largest_item <= MAX_ITEM_BYTES
    assert figures.per_single_read <= 3
    assert figures.per_bulk_key <= 1.1
    assert figures.not_stored == {}
    assert figures.problems == []


async def test_the_first_layout_ran_one_day_partition_hot_and_lost_large_events(
    dynamodb: DynamoDBClient,
) -> None:
    # The refused call names 1,000 keys of 490 bytes.
    mix = Mix(single_reads=60, bulk_reads=1, bulk_keys=100, refused_calls=1, key_pool=100)

    figures = await simulate_legacy(dynamodb, mix, mix_events(mix))

    # A third of every single read's units went to the day's one partition.
    hottest, share = figures.hottest([SINGLE])
    assert hottest == "DAY#2026-11-29"
    assert share == pytest.approx(1 / 3, abs=0.01)
    # The bench counts the first layout from its items' sizes alone: the same figures.
    counted = legacy_figures(mix, mix_events(mix))
    assert (counted.units, counted.not_stored) == (figures.units, figures.not_stored)
    assert figures.not_stored == {REFUSED: 1}
    assert figures.per_single_read == 3
    assert figures.per_bulk_key > 1.1
