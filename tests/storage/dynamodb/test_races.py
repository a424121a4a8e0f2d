"""A write racing an erasure or a restriction on DynamoDB (moto in server mode).

A DynamoDB write reads its markers (``marks``) and then writes with BatchWriteItem, which
takes no condition: an erasure or a restriction that lands between the two is not seen.
The README ("Erase") promises that "a write racing the erasure meets the tombstone ... and
is refused rather than resurrected". These tests put the act exactly in that gap (the
client runs it just before the write's first BatchWriteItem) and show that it does not
hold yet: they are strict xfails, to turn green with the fix (the lead's decision: a
conditional write costs capacity on the hot path; see the review's report).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from storage import ERASED, Record
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from tests.dynamodb_fixtures import fresh_key_table
from tests.storage.dynamodb.faults import FaultyClient, storage_on

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

AT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
KEY, VALUE = "9c1e0f", "john@acme.com"
RACE = pytest.mark.xfail(
    strict=True, reason="DynamoDB writes read their markers, then write unconditionally"
)


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


@RACE
async def test_a_write_racing_an_erasure_is_not_stored(
    dynamodb: DynamoDBClient, table: str
) -> None:
    async with fresh_key_table(dynamodb) as key_table:
        keyring = Keyring(LocalKeys.ephemeral())
        eraser = EncryptedStorage(
            storage_on(dynamodb, table, key_table=key_table), keyring, vault=table
        )
        await eraser.put_many([Record(KEY, VALUE)])

        async def erase() -> None:  # as EraseSubject does: tombstones, then the delete
            digest = await eraser.value_digest(VALUE)
            assert digest is not None
            await eraser.mark("erased", [KEY], [digest], reference="receipt", at=AT)
            await eraser.delete_many([KEY])

        writer = EncryptedStorage(
            storage_on(ActingMidWrite(dynamodb, erase), table, key_table=key_table),
            keyring,
            vault=table,
        )
        outcome = await writer.put_many([Record(KEY, VALUE)])

        assert await eraser.get_many([KEY]) == [None]
        assert outcome == [ERASED]


@RACE
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
