"""Data-subject acts meeting records past their expiry ("Retention") that DynamoDB's TTL
has yet to delete (hours to days later; the memory backend prunes them at once): an act
by value cannot see them, since every read answers them as not stored.

An erasure deletes the candidates that read as not stored (an expired record and its pad
go at once), and an unrestrict lifts the marks of the person's recomputed pseudonyms that
read so (the mark of a record that expired restricted goes with it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.services.subjects import SaltEpoch
from storage import MemoryStorage, Record
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import DynamoDBStorage
from storage.encrypted import EncryptedStorage
from storage.retention import Retention
from storage.subjects import snowplow_pseudonym
from tests.conftest import running_vault
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table
from tests.storage.conftest import ManualClock

VALUE = "203.0.113.9"
SALT = "expiry-canary-salt-5d"
EPOCHS = [SaltEpoch("2025", SALT, ("SHA-256",))]
KEY = snowplow_pseudonym(VALUE, SALT, "SHA-256")
WRITTEN = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
RETENTION = Retention(None, {"user_ipaddress": timedelta(days=30)})
JUSTIFIED: dict[str, Any] = {"basis": LawfulBasis.LEGAL_OBLIGATION, "purpose": "DSR-31"}


async def test_an_erasure_by_value_leaves_nothing_of_an_expired_record(
    moto_endpoint: str,
) -> None:
    clock = ManualClock(WRITTEN)
    async with (
        dynamodb_client(moto_endpoint) as client,
        fresh_table(client) as table,
        fresh_key_table(client) as key_table,
    ):
        backend = DynamoDBStorage(
            client, table, key_table=key_table, clock=clock, retention=RETENTION
        )
        storage = EncryptedStorage(backend, Keyring(LocalKeys.ephemeral()), vault=table)
        await storage.put_many([Record(KEY, VALUE, "user_ipaddress")])
        clock.advance(days=31)
        async with (
            running_vault(storage, salts=EPOCHS) as vault,
            PiinguinClient(vault.target) as piinguin,
        ):
            await piinguin.erase_subject(values=[VALUE], **JUSTIFIED)
        records = await client.get_item(
            TableName=table, Key={"modifiedValue": {"S": KEY}}, ConsistentRead=True
        )
        pads = await client.query(
            TableName=key_table,
            KeyConditionExpression="modifiedValue = :k",
            ExpressionAttributeValues={":k": {"S": KEY}},
            ConsistentRead=True,
        )

    assert "Item" not in records
    assert pads["Items"] == []


async def test_unrestricting_by_value_lifts_the_mark_of_a_record_that_expired() -> None:
    clock = ManualClock(WRITTEN)
    storage = EncryptedStorage(
        MemoryStorage(clock=clock, retention=RETENTION),
        Keyring(LocalKeys.ephemeral()),
        vault="memory",
    )
    await storage.put_many([Record(KEY, VALUE, "user_ipaddress")])
    async with (
        running_vault(storage, salts=EPOCHS) as vault,
        PiinguinClient(vault.target) as piinguin,
    ):
        await piinguin.restrict_subject(values=[VALUE], **JUSTIFIED)
        clock.advance(days=31)
        await piinguin.unrestrict_subject(values=[VALUE], **JUSTIFIED)
        [written] = await piinguin.create_records(
            [PiiRecord(modified_value=KEY, original_value=VALUE, field_name="user_ipaddress")]
        )
        found = await piinguin.find_subject(values=[VALUE], **JUSTIFIED)

    assert written.ok
    assert [r.restricted for r in found.records] == [False]
