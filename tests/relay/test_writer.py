"""The writer: pairs as records, and calls in flight bounded by the concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from piinguin.client import PiiRecord
from relay.extract import Pair
from relay.writer import to_record
from storage import Record, WriteOutcome
from tests.doubles import FaultyStorage
from tests.relay.factory import kinesis_record, lambda_event, pii_line, pojo_item

from .servers import RelayFactory, invoke, serving


def test_a_pair_becomes_a_record_field_for_field() -> None:
    tstamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    pair = Pair("k", "v@acme.com", "contexts", "$.email", "iglu:x", "SHA-256", "shop", tstamp)
    assert to_record(pair) == PiiRecord(
        modified_value="k",
        original_value="v@acme.com",
        field_name="contexts",
        json_path="$.email",
        schema="iglu:x",
        hash_function="SHA-256",
        app_id="shop",
        collector_tstamp=tstamp,
    )


class Crowded(FaultyStorage):
    """Holds each bulk write until ``expected`` are in flight (two seconds at most), and
    records the most that ever were."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.in_flight = self.most = 0
        self.full = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight >= self.expected:
            self.full.set()
        try:
            async with asyncio.timeout(2):
                await self.full.wait()
        except TimeoutError:
            pass
        self.in_flight -= 1
        return await super().put_many(records)


@pytest.mark.socket
async def test_at_most_concurrency_calls_are_in_flight(make_relay: RelayFactory) -> None:
    event = lambda_event(
        *(kinesis_record(pii_line([pojo_item("user_id", f"user{n}")]), n) for n in range(10))
    )
    storage = Crowded(expected=3)
    async with serving(storage) as vault:
        relay = make_relay(target=vault.target, bulk_size=1, concurrency=3)
        assert await invoke(relay, event) == {"batchItemFailures": []}
    assert storage.most == 3
    assert len(storage.inner) == 10
