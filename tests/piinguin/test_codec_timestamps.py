"""Timestamps are written from a cache of their encoded bytes: the cache must never change
what goes on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from piinguin import v1
from piinguin.wire import _CACHED_MOMENTS, from_wire, to_wire

MOMENT = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_the_same_instant_in_another_zone_writes_the_same_bytes() -> None:
    east = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    utc = v1.PiiRecord(modified_value="k", created_at=MOMENT)
    shifted = v1.PiiRecord(modified_value="k", created_at=east)

    assert to_wire(shifted) == to_wire(utc) == bytes(shifted)


def test_a_naive_moment_is_refused_even_when_an_equal_aware_one_is_cached() -> None:
    to_wire(v1.PiiRecord(created_at=MOMENT))

    with pytest.raises(ValueError, match="timezone aware"):
        to_wire(v1.PiiRecord(created_at=MOMENT.replace(tzinfo=None)))


def test_each_field_keeps_its_own_tag_for_a_shared_moment() -> None:
    message = v1.PiiRecord(collector_tstamp=MOMENT, created_at=MOMENT, updated_at=MOMENT)

    assert to_wire(message) == bytes(message)
    assert from_wire(v1.PiiRecord, to_wire(message)) == message


def test_the_epoch_is_an_empty_timestamp_that_is_still_present() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    message = v1.PiiRecord(created_at=epoch)

    assert to_wire(message) == bytes(message) == b"\x4a\x00"


def test_past_the_cache_bound_moments_are_still_written_right() -> None:
    for i in range(_CACHED_MOMENTS + 10):
        message = v1.PiiRecord(updated_at=MOMENT + timedelta(seconds=i, microseconds=i))
        assert to_wire(message) == bytes(message)
