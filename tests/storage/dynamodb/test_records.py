"""DynamoDB backend specifics: the stored layout, the original piinguin's items, request
counts, the table checks and the translation of errors. Against moto in server mode."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from storage import ItemFailed, Record, StorageError, StorageMisconfigured, StorageUnavailable
from storage.dynamodb import BatchPolicy, DynamoDBStorage, TablesMissing, create_table
from tests.dynamodb_fixtures import dynamodb_client, fresh_table_name
from tests.storage.dynamodb.faults import GET, WRITE, FaultyClient, client_error, storage_on

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

SECRET = "john@acme.com"
FIXED_NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


async def raw_item(client: DynamoDBClient, table: str, key: str) -> dict[str, Any] | None:
    response = await client.get_item(TableName=table, Key={"modifiedValue": {"S": key}})
    return response.get("Item")


async def test_items_are_stored_in_the_documented_layout(
    dynamodb: DynamoDBClient, table: str
) -> None:
    tstamp = datetime(2017, 7, 14, 5, 39, 39, tzinfo=timezone(timedelta(hours=2)))
    record = Record(
        "k",
        SECRET,
        field_name="contexts",
        json_path="$.email",
        app_id="ads",
        collector_tstamp=tstamp,
    )

    await storage_on(dynamodb, table, clock=lambda: FIXED_NOW).put_many([record])

    assert await raw_item(dynamodb, table, "k") == {
        "modifiedValue": {"S": "k"},
        "originalValue": {"S": SECRET},
        "fieldName": {"S": "contexts"},
        "jsonPath": {"S": "$.email"},
        "appId": {"S": "ads"},
        "collectorTstamp": {"S": "2017-07-14T03:39:39.000000+00:00"},
        "createdAt": {"S": "2024-05-06T07:08:09.123456+00:00"},
        "updatedAt": {"S": "2024-05-06T07:08:09.123456+00:00"},
    }


async def test_a_naive_collector_tstamp_is_taken_as_utc(
    dynamodb: DynamoDBClient, table: str
) -> None:
    storage = storage_on(dynamodb, table)
    await storage.put_many([Record("k", "v", collector_tstamp=datetime(2017, 7, 14, 3, 39))])

    [got] = await storage.get_many(["k"])

    assert isinstance(got, Record)
    assert got.collector_tstamp == datetime(2017, 7, 14, 3, 39, tzinfo=UTC)


async def test_created_at_is_kept_and_updated_at_moves_on(
    dynamodb: DynamoDBClient, table: str
) -> None:
    times = iter([FIXED_NOW, FIXED_NOW + timedelta(hours=1)])
    storage = storage_on(dynamodb, table, clock=lambda: next(times))
    await storage.put_many([Record("k", "old")])
    await storage.put_many([Record("k", "new")])

    [got] = await storage.get_many(["k"])

    assert isinstance(got, Record)
    assert (got.created_at, got.updated_at) == (FIXED_NOW, FIXED_NOW + timedelta(hours=1))


async def put_original_shape(client: DynamoDBClient, table: str, key: str, value: str) -> None:
    """An item exactly as the original Scala piinguin wrote it."""
    await client.put_item(
        TableName=table, Item={"modifiedValue": {"S": key}, "originalValue": {"S": value}}
    )


async def test_an_item_in_the_original_shape_reads_with_empty_provenance(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await put_original_shape(dynamodb, table, "legacy", SECRET)

    [got] = await storage_on(dynamodb, table).get_many(["legacy"])

    assert got == Record("legacy", SECRET)
    assert isinstance(got, Record)
    assert (got.created_at, got.updated_at, got.collector_tstamp) == (None, None, None)


async def test_an_item_in_the_original_shape_can_be_overwritten_and_deleted(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await put_original_shape(dynamodb, table, "legacy", "old")
    storage = storage_on(dynamodb, table, clock=lambda: FIXED_NOW)

    assert await storage.put_many([Record("legacy", "new", app_id="ads")]) == [None]
    [got] = await storage.get_many(["legacy"])
    assert isinstance(got, Record)
    assert (got.original_value, got.app_id) == ("new", "ads")
    # There was no createdAt to keep: the first write by us starts it.
    assert (got.created_at, got.updated_at) == (FIXED_NOW, FIXED_NOW)

    assert await storage.delete_many(["legacy"]) == [None]
    assert await raw_item(dynamodb, table, "legacy") is None


async def test_attributes_of_other_tools_are_ignored(dynamodb: DynamoDBClient, table: str) -> None:
    await dynamodb.put_item(
        TableName=table,
        Item={
            "modifiedValue": {"S": "k"},
            "originalValue": {"S": "v"},
            "owner": {"S": "another tool"},
        },
    )

    assert await storage_on(dynamodb, table).get_many(["k"]) == [Record("k", "v")]


@pytest.mark.parametrize(
    "item",
    [
        {"modifiedValue": {"S": "k"}},
        {"modifiedValue": {"S": "k"}, "originalValue": {"N": "12"}},
        {"modifiedValue": {"S": "k"}, "originalValue": {"S": "v"}, "createdAt": {"S": "soon"}},
        {"modifiedValue": {"S": "k"}, "originalValue": {"S": "v"}, "appId": {"N": "1"}},
    ],
    ids=["no-original", "numeric-original", "bad-timestamp", "numeric-provenance"],
)
async def test_a_malformed_item_is_an_item_failure(
    dynamodb: DynamoDBClient, table: str, item: dict[str, Any]
) -> None:
    await dynamodb.put_item(TableName=table, Item=item)

    [got] = await storage_on(dynamodb, table).get_many(["k"])

    assert got == ItemFailed("the stored item is malformed")


@pytest.mark.parametrize(("records", "unique"), [(1, 1), (25, 25), (26, 26), (260, 101)])
async def test_unique_keys_take_the_fewest_batch_requests(
    dynamodb: DynamoDBClient, table: str, records: int, unique: int
) -> None:
    faulty = FaultyClient(dynamodb)
    storage = storage_on(faulty, table)
    keys = [f"k{i % unique}" for i in range(records)]

    assert await storage.put_many([Record(key, "v") for key in keys]) == [None] * records
    # createdAt and the pseudonym's marker, one round; after the writes, the marker again
    # (a mark placed meanwhile is caught), another round.
    reads = math.ceil(2 * unique / 100) + math.ceil(unique / 100)
    assert (faulty.count(GET), faulty.count(WRITE)) == (reads, math.ceil(unique / 25))

    await storage.get_many(keys)
    assert faulty.count(GET) == reads + math.ceil(unique / 100)

    assert await storage.delete_many(keys) == [None] * records
    assert faulty.count(WRITE) == 2 * math.ceil(unique / 25)
    faulty.assert_within_limits()


async def test_the_write_carries_the_last_record_of_a_duplicated_key(
    dynamodb: DynamoDBClient, table: str
) -> None:
    storage = storage_on(dynamodb, table)
    records = [Record(f"k{i % 30}", f"v{i}") for i in range(90)]

    assert await storage.put_many(records) == [None] * 90

    got = await storage.get_many([f"k{i}" for i in range(30)])
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        f"v{60 + i}" for i in range(30)
    ]


async def test_check_passes_on_a_table_made_by_create_table(dynamodb: DynamoDBClient) -> None:
    name = fresh_table_name()

    await create_table(dynamodb, name)
    await create_table(dynamodb, name)  # idempotent

    await storage_on(dynamodb, name).check()
    description = await dynamodb.describe_table(TableName=name)
    assert description["Table"]["TableStatus"] == "ACTIVE"
    assert description["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


@pytest.fixture
async def wrong_table(dynamodb: DynamoDBClient, request: pytest.FixtureRequest) -> Any:
    """A table whose key schema is not Piinguin's."""
    keys, attributes = request.param
    name = fresh_table_name()
    await dynamodb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    await dynamodb.delete_table(TableName=name)


WRONG_SCHEMAS = {
    "other-hash-key": ([{"AttributeName": "id", "KeyType": "HASH"}], [("id", "S")]),
    "numeric-key": (
        [{"AttributeName": "modifiedValue", "KeyType": "HASH"}],
        [("modifiedValue", "N")],
    ),
    "with-sort-key": (
        [
            {"AttributeName": "modifiedValue", "KeyType": "HASH"},
            {"AttributeName": "createdAt", "KeyType": "RANGE"},
        ],
        [("modifiedValue", "S"), ("createdAt", "S")],
    ),
}


def wrong_schemas() -> list[Any]:
    return [
        pytest.param(
            (keys, [{"AttributeName": a, "AttributeType": t} for a, t in attributes]), id=name
        )
        for name, (keys, attributes) in WRONG_SCHEMAS.items()
    ]


@pytest.mark.parametrize("wrong_table", wrong_schemas(), indirect=True)
async def test_check_rejects_a_table_with_another_key_schema(
    dynamodb: DynamoDBClient, wrong_table: str
) -> None:
    with pytest.raises(StorageMisconfigured, match="single string HASH key 'modifiedValue'"):
        await storage_on(dynamodb, wrong_table).check()


@pytest.mark.parametrize("wrong_table", wrong_schemas(), indirect=True)
async def test_writing_to_a_table_with_another_key_schema_is_misconfigured(
    dynamodb: DynamoDBClient, wrong_table: str
) -> None:
    with pytest.raises(StorageMisconfigured) as caught:
        await storage_on(dynamodb, wrong_table).put_many([Record("k", SECRET)])

    assert_our_message(caught.value)


def assert_our_message(error: BaseException) -> None:
    """The message is ours: neither the client's error (DynamoDB's text, at the end of the
    chain of causes) nor any original value is in it."""
    original = error
    while isinstance(original, StorageError):
        assert original.__cause__ is not None
        original = original.__cause__
    aws_text = getattr(original, "response", {}).get("Error", {}).get("Message")
    for text in (aws_text, str(original)):
        assert not text or text not in str(error)
    assert SECRET not in str(error)


async def test_a_missing_table_is_misconfigured(dynamodb: DynamoDBClient) -> None:
    storage = storage_on(dynamodb, "no-such-table")

    with pytest.raises(TablesMissing, match="'no-such-table' does not exist") as caught:
        await storage.check()
    assert isinstance(caught.value, StorageMisconfigured)
    assert caught.value.tables == ("no-such-table",)
    assert_our_message(caught.value)


@pytest.mark.parametrize("operation", ["put_many", "get_many", "delete_many"])
async def test_every_operation_on_a_missing_table_is_misconfigured(
    dynamodb: DynamoDBClient, operation: str
) -> None:
    storage = storage_on(dynamodb, "no-such-table")
    argument = [Record("k", SECRET)] if operation == "put_many" else ["k"]

    with pytest.raises(TablesMissing, match="does not exist") as caught:
        await getattr(storage, operation)(argument)
    assert_our_message(caught.value)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nothing listens on: bound, so nobody else takes it, but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("operation", ["check", "put_many", "get_many", "delete_many"])
async def test_an_unreachable_endpoint_is_unavailable_quickly(
    closed_port: int, operation: str
) -> None:
    started = time.monotonic()
    async with dynamodb_client(
        f"http://127.0.0.1:{closed_port}", connect_timeout=0.5, retries={"total_max_attempts": 1}
    ) as client:
        storage = DynamoDBStorage(
            client, "table", policy=BatchPolicy(retry_deadline=0.2, backoff_base=0.01)
        )
        arguments = {"check": [], "put_many": [[Record("k", SECRET)]]}.get(operation, [["k"]])

        with pytest.raises(StorageUnavailable, match="could not be reached") as caught:
            await getattr(storage, operation)(*arguments)

    assert time.monotonic() - started < 5
    assert_our_message(caught.value)


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("UnrecognizedClientException", StorageMisconfigured, "credentials"),
        ("InvalidSignatureException", StorageMisconfigured, "credentials"),
        ("AccessDeniedException", StorageMisconfigured, "not allowed"),
        ("ValidationException", StorageMisconfigured, "as invalid"),
        ("SomethingNewException", StorageUnavailable, r"\(SomethingNewException\)"),
        ("Weird code <john@acme.com>", StorageUnavailable, r"\(unrecognised\)"),
    ],
)
async def test_call_level_errors_are_translated_with_our_own_message(
    dynamodb: DynamoDBClient,
    table: str,
    code: str,
    error: type[Exception],
    message: str,
) -> None:
    faulty = FaultyClient(dynamodb, fault=lambda op, _: client_error(code, op))

    with pytest.raises(error, match=message) as caught:
        await storage_on(faulty, table).put_many([Record("k", SECRET)])

    assert_our_message(caught.value)


@pytest.mark.parametrize(
    "policy",
    [
        {"retry_deadline": 0},
        {"backoff_base": 0},
        {"backoff_base": 2, "backoff_cap": 1},
        {"max_concurrency": 0},
    ],
)
def test_a_nonsensical_batch_policy_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BatchPolicy(**policy)  # type: ignore[arg-type]
