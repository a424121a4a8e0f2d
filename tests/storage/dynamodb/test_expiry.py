"""Retention on DynamoDB: the TTL attribute as it rests, the table's TTL turned on, and
expired items answered as not stored before DynamoDB deletes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage import Record
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import create_table
from storage.encrypted import EncryptedStorage
from storage.retention import Retention
from tests.dynamodb_fixtures import fresh_key_table
from tests.storage.conftest import ManualClock
from tests.storage.dynamodb.faults import storage_on

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

#: Far ahead of the real clock, so nothing written here is past its time for moto.
WRITTEN = datetime(2099, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
RETENTION = Retention(timedelta(days=730), {"user_ipaddress": timedelta(days=30)})


async def scanned(client: DynamoDBClient, table: str) -> dict[str, dict[str, Any]]:
    response = await client.scan(TableName=table, ConsistentRead=True)
    return {item["modifiedValue"]["S"]: dict(item) for item in response["Items"]}


def epoch(moment: datetime) -> str:
    return str(int(moment.timestamp()))


async def test_each_item_rests_with_its_expiry_in_epoch_seconds_rounded_up(
    dynamodb: DynamoDBClient, table: str
) -> None:
    storage = storage_on(dynamodb, table, clock=ManualClock(WRITTEN), retention=RETENTION)
    records = [Record("ip", "10.0.0.1", "user_ipaddress"), Record("mail", "a@b.c", "email")]

    assert await storage.put_many(records) == [None, None]

    items = await scanned(dynamodb, table)
    second_up = WRITTEN.replace(microsecond=0) + timedelta(seconds=1)
    assert items["ip"]["expiresAt"] == {"N": epoch(second_up + timedelta(days=30))}
    assert items["mail"]["expiresAt"] == {"N": epoch(second_up + timedelta(days=730))}


async def test_without_a_retention_items_have_no_expiry(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await storage_on(dynamodb, table).put_many([Record("k", "v", "user_ipaddress")])

    assert "expiresAt" not in (await scanned(dynamodb, table))["k"]


async def test_a_sealed_item_keeps_its_expiry_in_clear(
    dynamodb: DynamoDBClient, table: str
) -> None:
    async with fresh_key_table(dynamodb) as key_table:
        clock = ManualClock(WRITTEN)
        backend = storage_on(dynamodb, table, key_table=key_table, clock=clock, retention=RETENTION)
        storage = EncryptedStorage(backend, Keyring(LocalKeys.ephemeral()), vault=table)

        await storage.put_many([Record("ip", "10.0.0.1", "user_ipaddress")])

        item = (await scanned(dynamodb, table))["ip"]
        assert "sealed" in item
        assert "originalValue" not in item
        expires = WRITTEN.replace(microsecond=0) + timedelta(days=30, seconds=1)
        assert item["expiresAt"] == {"N": epoch(expires)}
        [pad] = (await dynamodb.scan(TableName=key_table))["Items"]
        assert pad["keyId"] == item["keyId"]
        assert pad["expiresAt"] == item["expiresAt"]  # the pad goes with its record
        ttl = await dynamodb.describe_time_to_live(TableName=key_table)
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
        clock.advance(days=31)
        assert await storage.get_many(["ip"]) == [None]
        assert "ip" in await scanned(dynamodb, table)  # still there, for DynamoDB to delete


async def test_an_expired_item_reads_as_not_stored_before_dynamodb_deletes_it(
    dynamodb: DynamoDBClient, table: str
) -> None:
    past = epoch(datetime.now(UTC) - timedelta(hours=1))
    await dynamodb.put_item(
        TableName=table,
        Item={
            "modifiedValue": {"S": "gone"},
            "originalValue": {"S": "v"},
            "expiresAt": {"N": past},
        },
    )

    assert await storage_on(dynamodb, table).get_many(["gone"]) == [None]


async def test_create_table_turns_on_ttl_on_expires_at(
    dynamodb: DynamoDBClient, table: str
) -> None:
    described = await dynamodb.describe_time_to_live(TableName=table)

    assert described["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }


async def test_creating_an_existing_table_again_leaves_its_ttl_on(
    dynamodb: DynamoDBClient, table: str
) -> None:
    await create_table(dynamodb, table)

    described = await dynamodb.describe_time_to_live(TableName=table)
    assert described["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
