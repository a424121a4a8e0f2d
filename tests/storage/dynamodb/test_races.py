"""A write racing an erasure or a restriction on DynamoDB (moto in server mode).

A DynamoDB write reads its markers (``marks``) and then writes with BatchWriteItem, which
takes no condition: an erasure or a restriction may land between the two. The write then
reads its markers again and catches up (``records``: the record erased meanwhile is
deleted with its pads and answered ``ERASED``, the one restricted meanwhile is flagged).
These tests put the act exactly in that gap: the client runs it just before the write's
first BatchWriteItem (for a sealed record, its pad's).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage import ERASED, ItemFailed, Record
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import BatchPolicy
from storage.encrypted import EncryptedStorage
from tests.dynamodb_fixtures import fresh_key_table
from tests.storage.dynamodb.faults import FaultyClient, storage_on

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

AT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
KEY, VALUE = "9c1e0f", "john@acme.com"
SHORT = BatchPolicy(retry_deadline=0.3, backoff_base=0.001, backoff_cap=0.005)


class ActingMidWrite(FaultyClient):
    """Runs ``act`` once, between a write's read of its markers and its first write."""

    def __init__(self, client: DynamoDBClient, act: Callable[[], Awaitable[None]]) -> None:
        super().__init__(client)
        self._act: Callable[[], Awaitable[None]] | None = act

    async def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> Any:
        act, self._act = self._act, None
        if act is not None:
            await act()
        return await super().batch_write_item(RequestItems=RequestItems)


class UnreadAfterWrite(FaultyClient):
    """Leaves every key of every BatchGetItem after the first BatchWriteItem unprocessed."""

    def __init__(self, client: DynamoDBClient) -> None:
        super().__init__(client)
        self._written = False

    async def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> Any:
        self._written = True
        return await super().batch_write_item(RequestItems=RequestItems)

    async def batch_get_item(self, *, RequestItems: dict[str, dict[str, Any]]) -> Any:
        if self._written:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return await super().batch_get_item(RequestItems=RequestItems)


async def pads_of(client: DynamoDBClient, key_table: str, key: str) -> list[dict[str, Any]]:
    """The key table's items for ``key``, read with the SDK directly, bypassing Piinguin."""
    response = await client.scan(TableName=key_table, ConsistentRead=True)
    return [item for item in response.get("Items", []) if item["modifiedValue"]["S"] == key]


def eraser_of(store: EncryptedStorage, pseudonyms: list[str]) -> Callable[[], Awaitable[None]]:
    """The act of erasing ``pseudonyms`` and ``VALUE`` as EraseSubject does it: the marks,
    then the delete."""

    async def erase() -> None:
        digest = await store.value_digest(VALUE)
        assert digest is not None
        await store.mark("erased", pseudonyms, [digest], reference="receipt", at=AT)
        await store.delete_many(pseudonyms)

    return erase


async def test_a_write_racing_an_erasure_is_not_stored(
    dynamodb: DynamoDBClient, table: str
) -> None:
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        eraser = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        await eraser.put_many([Record(KEY, VALUE)])

        writer = EncryptedStorage(
            storage_on(
                ActingMidWrite(dynamodb, eraser_of(eraser, [KEY])), table, key_table=key_table
            ),
            keyring,
            vault=table,
        )
        outcome = await writer.put_many([Record(KEY, VALUE)])

        assert await eraser.get_many([KEY]) == [None]
        assert outcome == [ERASED]


async def test_a_write_racing_a_restriction_lands_restricted(
    dynamodb: DynamoDBClient, table: str
) -> None:
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        restrictor = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        await restrictor.put_many([Record(KEY, VALUE)])

        async def restrict() -> None:  # as RestrictSubject does: marks, then the flags
            await restrictor.mark("restricted", [KEY], [], reference="request", at=AT)
            await restrictor.set_restricted([KEY], True)

        writer = EncryptedStorage(
            storage_on(ActingMidWrite(dynamodb, restrict), table, key_table=key_table),
            keyring,
            vault=table,
        )
        await writer.put_many([Record(KEY, VALUE)])

        [record] = await restrictor.get_many([KEY])
        assert isinstance(record, Record)
        assert record.restricted


async def test_another_pseudonym_of_a_value_erased_in_the_race_is_not_stored(
    dynamodb: DynamoDBClient, table: str
) -> None:
    # The erasure names the old pseudonym and the value; the write carries a new one (a
    # new salt): only the value's mark, read again after the write, can catch it.
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        eraser = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        await eraser.put_many([Record(KEY, VALUE)])
        writer = EncryptedStorage(
            storage_on(
                ActingMidWrite(dynamodb, eraser_of(eraser, [KEY])), table, key_table=key_table
            ),
            keyring,
            vault=table,
        )

        outcome = await writer.put_many([Record("epoch-2", VALUE), Record("other", "x@y.z")])

        assert outcome == [ERASED, None]
        assert await eraser.get_many(["epoch-2", KEY]) == [None, None]
        assert await pads_of(dynamodb, key_table, "epoch-2") == []


async def test_the_undone_write_leaves_no_pad_in_the_key_table(
    dynamodb: DynamoDBClient, table: str
) -> None:
    # The act runs before the write's pad lands, so the erasure's own delete cannot find
    # that pad: only the writer's undo removes it.
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        eraser = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        await eraser.put_many([Record(KEY, VALUE)])
        assert len(await pads_of(dynamodb, key_table, KEY)) == 1
        faulty = ActingMidWrite(dynamodb, eraser_of(eraser, [KEY]))
        writer = EncryptedStorage(
            storage_on(faulty, table, key_table=key_table), keyring, vault=table
        )

        assert await writer.put_many([Record(KEY, VALUE)]) == [ERASED]

        assert any(f"{KEY}#" in key for key in faulty.keys_sent("BatchWriteItem"))  # a pad
        assert await pads_of(dynamodb, key_table, KEY) == []


async def test_a_write_whose_marks_stay_unread_after_it_is_failed_and_kept(
    dynamodb: DynamoDBClient, table: str
) -> None:
    # Unread is not unmarked, nor erased: failed, to be retried, and not deleted (that
    # would lose the acknowledged version the write replaced to a throttled read).
    storage = storage_on(UnreadAfterWrite(dynamodb), table, policy=SHORT)

    outcome = await storage.put_many([Record(KEY, VALUE)])

    assert outcome == [
        ItemFailed(
            "stored, its marks unread after the write: retry: DynamoDB left it unprocessed "
            "until the deadline"
        )
    ]
    [stored] = await storage_on(dynamodb, table).get_many([KEY])
    assert isinstance(stored, Record)
    assert stored.original_value == VALUE


class ActingThenUnread(ActingMidWrite):
    """Runs ``act`` mid-write (as ``ActingMidWrite``), then leaves every later read of the
    marks unprocessed."""

    _written = False

    async def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> Any:
        response = await super().batch_write_item(RequestItems=RequestItems)
        self._written = True
        return response

    async def batch_get_item(self, *, RequestItems: dict[str, dict[str, Any]]) -> Any:
        if self._written:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return await super().batch_get_item(RequestItems=RequestItems)


async def test_a_raced_write_left_unchecked_is_erased_by_its_retry(
    dynamodb: DynamoDBClient, table: str
) -> None:
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        plain = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        racing = EncryptedStorage(
            storage_on(
                ActingThenUnread(dynamodb, eraser_of(plain, [KEY])),
                table,
                key_table=key_table,
                policy=SHORT,
            ),
            keyring,
            vault=table,
        )

        [first] = await racing.put_many([Record(KEY, VALUE)])
        assert isinstance(first, ItemFailed)
        assert not first.erased  # not known: the marks could not be read again

        # The pipeline retries the failed write: its first read meets the tombstone,
        # answers ERASED, and deletes what the raced write left, pads and all.
        assert await plain.put_many([Record(KEY, VALUE)]) == [ERASED]
        assert await plain.get_many([KEY]) == [None]
        assert await pads_of(dynamodb, key_table, KEY) == []
