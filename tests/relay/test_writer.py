"""The writer: pairs as records, and calls in flight bounded by the concurrency."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from grpclib.server import Server

from piinguin.client import PiiRecord
from relay.extract import Pair
from relay.writer import to_record
from tests.doubles import Crowded
from tests.relay.factory import kinesis_record, lambda_event, pii_line, pojo_item, sequence_number

from .servers import RelayFactory, Stricter, invoke, serving


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


@pytest.mark.socket
async def test_pairs_the_server_refuses_for_good_are_not_redelivered(
    make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    originals = ["pii-canary-1 ok", "pii-canary-2 refused", "pii-canary-3 flaky"]
    event = lambda_event(
        *(kinesis_record(pii_line([pojo_item("user_id", o)]), n) for n, o in enumerate(originals))
    )
    server = Server([Stricter()])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        await server.start(sock=sock)
        try:
            relay = make_relay(target=f"127.0.0.1:{sock.getsockname()[1]}")
            answer = await invoke(relay, event)
        finally:
            server.close()
            await server.wait_closed()

    assert answer == {"batchItemFailures": [{"itemIdentifier": sequence_number(2)}]}
    lines = [json.loads(line) for line in log_output().splitlines()]
    [summary] = [line for line in lines if line["event"] == "relay_summary"]
    assert (summary["written"], summary["failed"], summary["reported"]) == (1, 2, 1)
    assert (summary["failed_invalid_argument"], summary["failed_unavailable"]) == (1, 1)
    assert [line["error"] for line in lines if line["event"] == "relay_pair_refused"] == [
        "too long here"
    ]
    assert "pii-canary" not in log_output()
