"""The DynamoDB backend under faults injected at the client boundary (``FaultyClient``,
delegating to a real client against moto): unprocessed items, throttling, lost
connections, permanent failure, and a large write with bounded concurrency."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client import generate_latest

from piinguin.server.metrics import Metrics
from storage import ItemFailed, Record, StorageMisconfigured, StorageUnavailable, WriteOutcome
from storage.dynamodb import BatchPolicy
from tests.conftest import Scrape
from tests.storage.dynamodb.faults import (
    GET,
    WRITE,
    FaultyClient,
    client_error,
    connection_lost,
    storage_on,
    throttled,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

#: A deadline short enough for tests that wait for it to pass...
# Long enough for a few moto round trips on a loaded machine: the tests assert retries.
SHORT = BatchPolicy(retry_deadline=0.5, backoff_base=0.001, backoff_cap=0.005)
#: ...and one long enough for other batches to get done, even on a loaded machine, while
#: stuck ones wait for it (they take ~0.1 s idle).
AMPLE = BatchPolicy(retry_deadline=1.0, backoff_base=0.001, backoff_cap=0.005)


def records(count: int, prefix: str = "k") -> list[Record]:
    return [Record(f"{prefix}{i}", f"secret-{prefix}{i}") for i in range(count)]


async def stored_values(client: DynamoDBClient, table: str) -> dict[str, str]:
    """Every item in the table, read past the backend with the real client."""
    values: dict[str, str] = {}
    async for page in client.get_paginator("scan").paginate(TableName=table):
        values.update(
            (item["modifiedValue"]["S"], item["originalValue"]["S"]) for item in page["Items"]
        )
    return values


def assert_outcomes_are_honest(
    written: Sequence[Record], outcomes: Sequence[WriteOutcome], stored: dict[str, str]
) -> None:
    """Every acknowledged record is stored as written; nothing else is claimed."""
    assert len(outcomes) == len(written)
    for record, outcome in zip(written, outcomes, strict=True):
        assert outcome is None or isinstance(outcome, ItemFailed)
        if outcome is None:
            assert stored.get(record.modified_value) == record.original_value


async def test_a_share_left_unprocessed_on_every_call_is_retried_until_done(
    dynamodb: DynamoDBClient, table: str
) -> None:
    faulty = FaultyClient(dynamodb, unprocessed_share=0.3)
    storage = storage_on(faulty, table)
    written = records(300)

    outcomes = await storage.put_many(written)

    assert outcomes == [None] * 300
    assert_outcomes_are_honest(written, outcomes, await stored_values(dynamodb, table))
    assert faulty.count(WRITE) > math.ceil(300 / 25)  # the unprocessed were sent again
    got = await storage.get_many([r.modified_value for r in written])
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        r.original_value for r in written
    ]
    assert await storage.delete_many([r.modified_value for r in written]) == [None] * 300
    assert await stored_values(dynamodb, table) == {}
    faulty.assert_within_limits()


async def test_duplicates_under_retries_still_collapse_to_the_last(
    dynamodb: DynamoDBClient, table: str
) -> None:
    faulty = FaultyClient(dynamodb, unprocessed_share=0.3, seed=7)
    storage = storage_on(faulty, table)
    written = [Record(f"k{i % 40}", f"v{i}") for i in range(120)]

    assert await storage.put_many(written) == [None] * 120

    assert await stored_values(dynamodb, table) == {f"k{i}": f"v{80 + i}" for i in range(40)}
    faulty.assert_within_limits()


@pytest.mark.parametrize("fault", [throttled, connection_lost], ids=["throttled", "connection"])
async def test_the_first_requests_failing_are_retried(
    dynamodb: DynamoDBClient, table: str, fault: Any
) -> None:
    faulty = FaultyClient(dynamodb, fault=lambda op, index: fault(op) if index < 3 else None)
    storage = storage_on(faulty, table)
    written = records(60)

    assert await storage.put_many(written) == [None] * 60

    # The read of createdAt and of the pseudonyms' markers (120 keys, two requests) failed
    # 3 times in all, then got through; then 3 writes, then the markers again (60 keys).
    assert (faulty.count(GET), faulty.count(WRITE)) == (3 + 2 + 1, 3)
    assert_outcomes_are_honest(written, [None] * 60, await stored_values(dynamodb, table))


async def test_a_server_error_is_retried(dynamodb: DynamoDBClient, table: str) -> None:
    def fault(operation: str, index: int) -> Exception | None:
        return client_error("InternalServerError", operation, status=500) if index < 2 else None

    storage = storage_on(FaultyClient(dynamodb, fault=fault), table)

    assert await storage.put_many(records(5)) == [None] * 5


async def test_keys_left_unprocessed_until_the_deadline_fail_alone(
    dynamodb: DynamoDBClient, table: str
) -> None:
    stuck = {"k3", "k30", "k31"}
    faulty = FaultyClient(dynamodb, unprocessed_share=0.3, stuck_writes=stuck)
    storage = storage_on(faulty, table, policy=AMPLE)
    written = records(50)

    outcomes = await storage.put_many(written)

    failed = {r.modified_value for r, o in zip(written, outcomes, strict=True) if o is not None}
    assert failed == stuck
    stored = await stored_values(dynamodb, table)
    assert_outcomes_are_honest(written, outcomes, stored)
    assert stuck.isdisjoint(stored)
    reasons = {outcome.reason for outcome in outcomes if isinstance(outcome, ItemFailed)}
    assert reasons == {"DynamoDB left it unprocessed until the deadline"}
    faulty.assert_within_limits()


async def test_a_key_whose_created_at_cannot_be_read_is_not_written(
    dynamodb: DynamoDBClient, table: str
) -> None:
    faulty = FaultyClient(dynamodb, stuck_reads={"k1"})
    storage = storage_on(faulty, table, policy=SHORT)

    outcomes = await storage.put_many(records(3))

    assert outcomes == [
        None,
        ItemFailed(
            "not written, its createdAt unread: DynamoDB left it unprocessed until the deadline"
        ),
        None,
    ]
    assert "k1" not in faulty.keys_sent(WRITE)
    assert set(await stored_values(dynamodb, table)) == {"k0", "k2"}


async def test_keys_unread_until_the_deadline_fail_alone(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await storage_on(dynamodb, table).put_many(records(120))
    faulty = FaultyClient(dynamodb, unprocessed_share=0.3, stuck_reads={"k7", "k110"})
    storage = storage_on(faulty, table, policy=AMPLE)

    got = await storage.get_many(["k7", "k8", "missing", "k110", "k7"])

    assert (
        got[0] == got[3] == got[4] == ItemFailed("DynamoDB left it unprocessed until the deadline")
    )
    assert isinstance(got[1], Record)
    assert got[1].original_value == "secret-k8"
    assert got[2] is None
    faulty.assert_within_limits()


@pytest.mark.parametrize("operation", [GET, WRITE])
async def test_permanent_throttling_fails_every_item_and_stores_nothing(
    dynamodb: DynamoDBClient, table: str, operation: str
) -> None:
    faulty = FaultyClient(dynamodb, fault=lambda op, _: throttled(op) if op == operation else None)
    storage = storage_on(faulty, table, policy=SHORT)

    outcomes = await storage.put_many(records(40))

    reason = "DynamoDB throttled the request until the deadline"
    if operation == GET:
        reason = f"not written, its createdAt unread: {reason}"
    assert outcomes == [ItemFailed(reason)] * 40
    assert await stored_values(dynamodb, table) == {}
    assert faulty.count(operation) > 2  # it did retry


async def test_permanent_throttling_of_deletes_deletes_nothing(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await storage_on(dynamodb, table).put_many(records(30))
    faulty = FaultyClient(dynamodb, fault=lambda op, _: throttled(op))

    outcomes = await storage_on(faulty, table, policy=SHORT).delete_many(["k0", "k29"])

    assert all(isinstance(outcome, ItemFailed) for outcome in outcomes)
    assert len(await stored_values(dynamodb, table)) == 30


async def test_a_connection_lost_after_dynamodb_answered_fails_items(
    dynamodb: DynamoDBClient, table: str
) -> None:
    # The read of createdAt got through, so DynamoDB is reachable: the writes fail per item.
    faulty = FaultyClient(dynamodb, fault=lambda op, _: connection_lost() if op == WRITE else None)

    outcomes = await storage_on(faulty, table, policy=SHORT).put_many(records(2))

    assert outcomes == [ItemFailed("DynamoDB could not be reached until the deadline")] * 2


async def test_no_answer_at_all_until_the_deadline_is_unavailable(
    dynamodb: DynamoDBClient, table: str
) -> None:
    faulty = FaultyClient(dynamodb, fault=lambda *_: connection_lost())
    storage = storage_on(faulty, table, policy=SHORT)

    with pytest.raises(StorageUnavailable, match="could not be reached"):
        await storage.get_many(["k0"])
    with pytest.raises(StorageUnavailable, match="could not be reached"):
        await storage.put_many(records(2))


async def test_a_call_level_error_in_one_batch_fails_the_whole_call(
    dynamodb: DynamoDBClient, table: str
) -> None:
    def fault(operation: str, index: int) -> Exception | None:
        return client_error("ResourceNotFoundException", operation) if index == 3 else None

    faulty = FaultyClient(dynamodb, fault=fault)
    storage = storage_on(faulty, table)

    with pytest.raises(StorageMisconfigured, match="does not exist"):
        await storage.put_many(records(500))


async def test_mixed_faults_never_claim_what_is_not_stored(
    dynamodb: DynamoDBClient, table: str
) -> None:
    def fault(operation: str, index: int) -> Exception | None:
        return [None, throttled(operation), None, connection_lost(), None][index % 5]

    stuck = {f"k{i}" for i in range(0, 200, 37)}
    faulty = FaultyClient(dynamodb, unprocessed_share=0.3, stuck_writes=stuck, fault=fault)
    storage = storage_on(faulty, table, policy=AMPLE)
    written = records(200)

    outcomes = await storage.put_many(written)

    stored = await stored_values(dynamodb, table)
    assert_outcomes_are_honest(written, outcomes, stored)
    assert {r.modified_value for r, o in zip(written, outcomes, strict=True) if o} == stuck
    faulty.assert_within_limits()


async def test_ten_thousand_records_with_bounded_concurrency(
    dynamodb: DynamoDBClient, table: str
) -> None:
    faulty = FaultyClient(dynamodb)
    policy = BatchPolicy(max_concurrency=6, backoff_base=0.001, backoff_cap=0.005)
    storage = storage_on(faulty, table, policy=policy)
    written = records(10_050)

    started = time.perf_counter()
    outcomes = await storage.put_many(written)
    elapsed = time.perf_counter() - started

    assert outcomes == [None] * 10_050
    # Reads: 10,050 records and as many pseudonym markers, 100 keys a request, then the
    # markers again after the writes.
    assert (faulty.count(GET), faulty.count(WRITE)) == (201 + 101, 402)
    assert 1 < faulty.max_in_flight <= 6
    assert elapsed < 30
    got = await storage.get_many([r.modified_value for r in written])
    assert all(isinstance(r, Record) for r in got)
    assert faulty.max_in_flight <= 6
    faulty.assert_within_limits()


async def test_throttling_is_counted_in_the_servers_metrics(
    dynamodb: DynamoDBClient, table: str
) -> None:
    # The store tells its retries to an observer; the server's is its metrics.
    metrics = Metrics()
    faulty = FaultyClient(dynamodb, fault=lambda op, _: throttled(op) if op == WRITE else None)
    storage = storage_on(faulty, table, policy=SHORT, observer=metrics.storage)

    outcomes = await storage.put_many(records(30))

    assert all(isinstance(outcome, ItemFailed) for outcome in outcomes)
    scraped = Scrape(generate_latest(metrics.registry).decode())
    labels = {"store": "records", "reason": "throttled"}
    retries = scraped.value("piinguin_storage_retries_total", **labels)
    assert retries is not None
    assert retries >= 2
    assert scraped.value("piinguin_storage_item_failures_total", **labels) == 30
    assert scraped.value("piinguin_storage_retries_total", store="audit", reason="throttled") == 0
