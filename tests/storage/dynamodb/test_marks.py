"""Marker items in the records table (moto in server mode): what rests in them, and that
everything walking the table passes them by."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from storage import ERASED, ItemFailed, Record, StorageUnavailable
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import BatchPolicy
from storage.encrypted import EncryptedStorage
from storage.migrate import rewrite
from storage.retention import Retention
from tests.dynamodb_fixtures import fresh_key_table
from tests.storage.dynamodb.faults import FaultyClient, storage_on, throttled
from tests.storage.leaks import found_values

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

AT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
VALUES = ["john@acme.com", "jane@acme.com", "192.168.10.20", "Jöhn Dœ"]
PSEUDONYMS = [hashlib.sha256(v.encode()).hexdigest() for v in VALUES]
EVERY_FIELD_A_YEAR = Retention(timedelta(days=365))


class Rig:
    """An encrypted store with a retention policy on fresh tables, and the raw client."""

    def __init__(self, client: DynamoDBClient, table: str, key_table: str) -> None:
        self.client = client
        self.table = table
        self.key_table = key_table
        self.backend = storage_on(client, table, key_table=key_table, retention=EVERY_FIELD_A_YEAR)
        self.store = EncryptedStorage(self.backend, Keyring(LocalKeys.ephemeral()), vault=table)

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

    async def markers(self) -> list[dict[str, Any]]:
        return [i for i in await self.scan(self.table) if i["modifiedValue"]["S"][0] == "\x1f"]

    async def erase(self, pseudonyms: list[str], values: list[str]) -> None:
        """What the service does to erase: delete, then mark the pseudonyms and values."""
        digests = [d for v in values if (d := await self.store.value_digest(v)) is not None]
        await self.store.delete_many(pseudonyms)
        await self.store.mark("erased", pseudonyms, digests, reference="receipt-1", at=AT)


@pytest.fixture
async def rig(dynamodb: DynamoDBClient, table: str) -> AsyncIterator[Rig]:
    async with fresh_key_table(dynamodb) as key_table:
        yield Rig(dynamodb, table, key_table)


async def test_marks_erasures_and_restrictions_leave_no_original_anywhere(rig: Rig) -> None:
    records = [Record(p, v, field_name="user_id") for p, v in zip(PSEUDONYMS, VALUES, strict=True)]
    await rig.store.put_many(records)
    held = await rig.store.value_digest(VALUES[1])
    assert held is not None
    await rig.store.mark("restricted", [PSEUDONYMS[1]], [held], reference="request-2", at=AT)
    await rig.store.set_restricted([PSEUDONYMS[1]], True)
    await rig.erase(PSEUDONYMS[:1], VALUES[:1])
    # The erased value comes back under a new salt: refused.
    assert await rig.store.put_many([Record("epoch-2", VALUES[0])]) == [ERASED]

    everything = await rig.scan(rig.table) + await rig.scan(rig.key_table)

    assert found_values(VALUES, everything) == []
    markers = await rig.markers()
    assert len(markers) == 4  # erased: pseudonym and value; restricted: pseudonym and value
    # A pseudonym rests in its marker only as a hash of it.
    assert found_values(PSEUDONYMS, markers) == []
    assert all(set(m) <= {"modifiedValue", "erasedAt", "erasedRef", "restrictedAt",
                          "restrictedRef"} for m in markers)  # fmt: skip
    assert all("expiresAt" not in m for m in markers)  # markers never expire
    records_left = [i for i in await rig.scan(rig.table) if i not in markers]
    assert all("expiresAt" in i for i in records_left)  # while records do
    assert [i["modifiedValue"]["S"] for i in records_left if "restricted" in i] == [PSEUDONYMS[1]]


async def test_scan_and_migration_pass_markers_by(rig: Rig) -> None:
    await rig.store.put_many([Record(p, v) for p, v in zip(PSEUDONYMS, VALUES, strict=True)])
    await rig.erase(PSEUDONYMS[:2], VALUES[:2])
    await rig.store.mark("restricted", ["p-x"], ["d-x"], reference="r", at=AT)
    assert len(await rig.markers()) == 6

    page = await rig.backend.scan(None, 100)
    tally = await rewrite(rig.store, "reencrypt", every=True, page_size=2)

    assert sorted(key for key, _ in page.items) == sorted(PSEUDONYMS[2:])
    assert (tally.scanned, tally.rewritten, tally.unreadable, tally.failed) == (2, 2, 0, 0)
    assert len(await rig.markers()) == 6  # left as they were


async def test_find_index_never_answers_a_marker(rig: Rig) -> None:
    await rig.store.put_many([Record(PSEUDONYMS[0], VALUES[0])])
    digest = await rig.store.value_digest(VALUES[0])
    assert digest is not None
    await rig.store.mark("restricted", [PSEUDONYMS[0]], [digest], reference="r", at=AT)

    envelope = await rig.store.envelope()
    assert envelope.index is not None
    found = await rig.backend.find_index(envelope.index.truncated(digest))

    assert found == [PSEUDONYMS[0]]
    assert (await rig.store.find(VALUES[0])).keys == [PSEUDONYMS[0]]


async def test_lifting_the_last_mark_removes_its_marker(rig: Rig) -> None:
    await rig.store.mark("restricted", ["p"], ["d"], reference="r", at=AT)
    await rig.store.mark("erased", ["p"], [], reference="e", at=AT)

    await rig.store.unmark("restricted", ["p", "never-marked"], ["d"])
    [left] = await rig.markers()
    await rig.store.unmark("erased", ["p"], [])

    assert set(left) == {"modifiedValue", "erasedAt", "erasedRef"}
    assert await rig.markers() == []


async def test_a_mark_that_cannot_be_written_fails_the_call(
    dynamodb: DynamoDBClient, table: str
) -> None:
    class Throttled(FaultyClient):
        async def update_item(self, **_request: Any) -> Any:
            raise throttled("UpdateItem")

    store = storage_on(
        Throttled(dynamodb),
        table,
        policy=BatchPolicy(retry_deadline=0.05, backoff_base=0.01, backoff_cap=0.01),
    )

    with pytest.raises(StorageUnavailable, match="1 of 1 marks not written"):
        await store.mark("erased", ["p"], [], reference="r", at=AT)
    with pytest.raises(StorageUnavailable, match="1 of 1 marks not lifted"):
        await store.unmark("erased", ["p"], [])
    [failed] = await store.set_restricted(["p"], True)
    assert isinstance(failed, ItemFailed)
    assert not failed.erased
