"""Sealed records on DynamoDB (moto in server mode): the layout, the proof that no original
rests in either table, tampering, erasure of key material, lookups by blind index."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from storage import ItemFailed, Record
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import DynamoDBStorage, add_blind_index
from storage.encrypted import EncryptedStorage
from storage.records import SealedRecord
from tests.dynamodb_fixtures import fresh_key_table, fresh_table_name
from tests.storage.dynamodb.faults import GET, WRITE, FaultyClient, storage_on
from tests.storage.leaks import found_values

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

VALUES = [f"person.{n}@acme.com" for n in range(40)] + ["192.168.10.20", "Jöhn Dœ", "+44 20 7946"]


class Vault:
    """An encrypted store on a fresh records table and key table, and the raw client."""

    def __init__(self, client: DynamoDBClient, table: str, key_table: str) -> None:
        self.client = client
        self.table = table
        self.key_table = key_table
        self.keyring = Keyring(LocalKeys.ephemeral())
        self.backend = storage_on(client, table, key_table=key_table)
        self.store = EncryptedStorage(self.backend, self.keyring, vault=table)

    async def scan(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table``, read with the SDK directly, bypassing Piinguin."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            response = await self.client.scan(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def item(self, key: str) -> dict[str, Any]:
        response = await self.client.get_item(
            TableName=self.table, Key={"modifiedValue": {"S": key}}
        )
        return dict(response["Item"])


@pytest.fixture
async def vault(dynamodb: DynamoDBClient, table: str) -> AsyncIterator[Vault]:
    async with fresh_key_table(dynamodb) as key_table:
        yield Vault(dynamodb, table, key_table)


async def test_a_sealed_item_has_no_original_and_names_its_key(vault: Vault) -> None:
    await vault.store.put_many([Record("k", "john@acme.com", field_name="user_id", app_id="a")])

    item = await vault.item("k")
    [pad] = await vault.scan(vault.key_table)

    assert set(item) == {
        "modifiedValue",
        "sealed",
        "keyId",
        "keyVersion",
        "dataKey",
        "blindIndex",
        "fieldName",
        "appId",
        "createdAt",
        "updatedAt",
    }
    assert item["keyVersion"] == {"S": vault.keyring.current_version}
    assert item["fieldName"] == {"S": "user_id"}  # provenance stays readable
    assert set(pad) == {"modifiedValue", "keyId", "pad"}
    assert pad["keyId"] == item["keyId"]
    assert len(pad["pad"]["B"]) == len(item["sealed"]["B"]) == 12 + len("john@acme.com") + 16


async def test_no_original_rests_in_either_table_in_any_encoding(vault: Vault) -> None:
    records = [Record(f"key-{n}", value, app_id="shop") for n, value in enumerate(VALUES)]
    assert await vault.store.put_many(records) == [None] * len(records)
    # Overwrites and deletes leave nothing behind either.
    await vault.store.put_many(records[:10])
    await vault.store.delete_many(["key-3"])

    everything = await vault.scan(vault.table) + await vault.scan(vault.key_table)

    assert found_values(VALUES, everything) == []
    assert len(await vault.scan(vault.key_table)) == len(records) - 1  # one pad a record
    got = await vault.store.get_many([r.modified_value for r in records])
    assert [g.original_value if isinstance(g, Record) else g for g in got] == [
        None if r.modified_value == "key-3" else r.original_value for r in records
    ]


async def test_a_bit_flipped_in_the_stored_share_is_refused(vault: Vault) -> None:
    await vault.store.put_many([Record("k", "john@acme.com")])
    item = await vault.item("k")
    share = bytearray(item["sealed"]["B"])
    share[20] ^= 0x01
    await vault.client.put_item(TableName=vault.table, Item={**item, "sealed": {"B": bytes(share)}})

    [got] = await vault.store.get_many(["k"])

    assert isinstance(got, ItemFailed)
    assert got.damaged
    assert "failed authentication" in got.reason


async def test_a_ciphertext_moved_to_another_item_is_refused(vault: Vault) -> None:
    await vault.store.put_many([Record("victim", "victim@acme.com"), Record("mine", "me@x.io")])
    victim = await vault.item("victim")
    sealed_parts = {a: victim[a] for a in ("sealed", "keyId", "keyVersion", "dataKey")}
    mine = await vault.item("mine")
    await vault.client.put_item(TableName=vault.table, Item={**mine, **sealed_parts})

    [got] = await vault.store.get_many(["mine"])

    assert isinstance(got, ItemFailed)
    assert got.damaged
    assert "victim" not in got.reason


async def test_a_record_whose_key_material_is_gone_cannot_be_read(vault: Vault) -> None:
    await vault.store.put_many([Record("k", "john@acme.com")])
    [pad] = await vault.scan(vault.key_table)
    await vault.client.delete_item(
        TableName=vault.key_table,
        Key={"modifiedValue": pad["modifiedValue"], "keyId": pad["keyId"]},
    )

    [got] = await vault.store.get_many(["k"])

    assert got == ItemFailed(
        "its key material is not in the key table: erased, or never written", damaged=True
    )


async def test_delete_erases_every_pad_of_the_key_and_no_keyring_entry(vault: Vault) -> None:
    await vault.store.put_many([Record("#keyring", "a@acme.com"), Record("other", "b@acme.com")])
    await vault.backend.store_entry("kms-index-key", b"wrapped")
    # A pad a failed write left behind, which no record names.
    await vault.client.put_item(
        TableName=vault.key_table,
        Item={"modifiedValue": {"S": "#keyring"}, "keyId": {"S": "0" * 24}, "pad": {"B": b"x"}},
    )

    assert await vault.store.delete_many(["#keyring"]) == [None]

    left = await vault.scan(vault.key_table)
    assert sorted((i["modifiedValue"]["S"], i["keyId"]["S"][:6]) for i in left) == sorted(
        [("#keyring", "entry:"), ("other", (await vault.item("other"))["keyId"]["S"][:6])]
    )
    assert await vault.backend.load_entry("kms-index-key") == b"wrapped"


async def test_concurrent_writers_of_one_key_never_pair_a_record_with_another_pad(
    vault: Vault,
) -> None:
    values = [f"writer{n}@acme.com" for n in range(12)]

    await asyncio.gather(*(vault.store.put_many([Record("k", v)]) for v in values))

    [got] = await vault.store.get_many(["k"])
    assert isinstance(got, Record)
    assert got.original_value in values
    assert await vault.store.delete_many(["k"]) == [None]
    assert await vault.scan(vault.key_table) == []


async def test_requests_per_bulk_write_read_and_delete(vault: Vault) -> None:
    faulty = FaultyClient(vault.client)
    backend = storage_on(faulty, vault.table, key_table=vault.key_table)
    store = EncryptedStorage(backend, vault.keyring, vault=vault.table)
    records = [Record(f"k{n}", f"v{n}@acme.com") for n in range(100)]

    await store.put_many(records)
    # createdAt and the old pad's id with the pseudonym's and the value's markers (300
    # keys: 3 reads, one round), pads (4 writes), records (4 writes), then both markers
    # again (200 keys: 2 reads, one round) to catch a mark placed meanwhile.
    assert (faulty.count(GET), faulty.count(WRITE)) == (3 + 2, 8)
    await store.put_many(records)  # overwriting also deletes the 100 replaced pads
    assert (faulty.count(GET), faulty.count(WRITE)) == (10, 8 + 12)
    await store.get_many([r.modified_value for r in records])
    assert faulty.count(GET) == 10 + 2  # records, then their pads
    faulty.assert_within_limits()


async def test_the_backend_alone_refuses_a_sealed_item(vault: Vault) -> None:
    await vault.store.put_many([Record("k", "john@acme.com")])

    [got] = await vault.backend.get_many(["k"])

    assert isinstance(got, ItemFailed)
    assert got.damaged


async def test_plaintext_items_of_earlier_versions_read_through_encryption(vault: Vault) -> None:
    await vault.client.put_item(
        TableName=vault.table,
        Item={"modifiedValue": {"S": "legacy"}, "originalValue": {"S": "old@acme.com"}},
    )

    [got] = await vault.store.get_many(["legacy"])

    assert got == Record("legacy", "old@acme.com")


async def test_find_reads_the_blind_index(vault: Vault) -> None:
    await vault.store.put_many(
        [Record("a", "John@Acme.com"), Record("b", "john@acme.com "), Record("c", "x@y.z")]
    )

    assert (await vault.store.find(" JOHN@acme.com")).keys == ["a", "b"]
    [stored] = await vault.backend.get_stored(["a"])
    assert isinstance(stored, SealedRecord)
    assert {"a", "b"} <= set(await vault.backend.find_index(stored.sealed.blind_index))


@contextlib.asynccontextmanager
async def table_without_index(client: DynamoDBClient) -> AsyncIterator[str]:
    """A records table as earlier versions created it: no blind index."""
    name = fresh_table_name()
    await client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "modifiedValue", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "modifiedValue", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        yield name
    finally:
        await client.delete_table(TableName=name)


async def test_an_existing_table_gets_its_blind_index_added(dynamodb: DynamoDBClient) -> None:
    async with table_without_index(dynamodb) as name, fresh_key_table(dynamodb) as key_table:
        backend = DynamoDBStorage(dynamodb, name, key_table=key_table)
        store = EncryptedStorage(backend, Keyring(LocalKeys.ephemeral()), vault=name)
        await store.check()  # serves without it
        await store.put_many([Record("k", "john@acme.com")])
        with pytest.raises(Exception, match="has no 'blindIndex' index: add it"):
            await store.find("john@acme.com")

        assert await add_blind_index(dynamodb, name, poll_seconds=0.01) is True
        assert await add_blind_index(dynamodb, name, poll_seconds=0.01) is False

        assert (await store.find("john@acme.com")).keys == ["k"]


async def test_the_first_keyring_entry_stored_wins(vault: Vault) -> None:
    stored = await asyncio.gather(
        *(vault.backend.store_entry("index", bytes([n])) for n in range(5))
    )

    assert len(set(stored)) == 1
    assert await vault.backend.load_entry("index") == stored[0]
    assert await vault.backend.load_entry("absent") is None
