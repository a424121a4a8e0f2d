"""The writer: pairs as records, and calls in flight bounded by the concurrency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from piinguin.client import PiiRecord
from relay.extract import Pair
from relay.writer import to_record
from tests.doubles import Crowded
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
