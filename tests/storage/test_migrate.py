"""Sealing plaintext items in place and re-encrypting under a new key version, on the
memory backend and on DynamoDB (moto): idempotent, resumable, and never over a write
that came in between."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from storage import MemoryStorage, Record
from storage.base import SealedStorage
from storage.crypto import IndexKey, Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.migrate import Tally, rewrite
from storage.records import CHANGED, SealedRecord
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table
from tests.storage.dynamodb.faults import storage_on
from tests.storage.leaks import found_values

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

STAMP = datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


class Rig:
    """A backend, a raw look at what rests in it, and keyrings over one set of versions."""

    def __init__(self, backend: SealedStorage, client: DynamoDBClient | None, tables: list[str]):
        self.backend = backend
        self.client = client
        self.tables = tables
        first = secrets.token_hex(4)
        self.keys = {first: secrets.token_bytes(32)}
        self.current = first
        self.index = IndexKey(secrets.token_bytes(32), 16)

    def rotate(self) -> str:
        version = secrets.token_hex(4)
        self.keys[version] = secrets.token_bytes(32)
        self.current = version
        return f"local:{version}"

    def store(self, *, only_current: bool = False) -> EncryptedStorage:
        keys = {self.current: self.keys[self.current]} if only_current else self.keys
        keyring = Keyring(LocalKeys(keys, self.current, self.index))
        return EncryptedStorage(self.backend, keyring, vault="vault")

    async def resting(self) -> list[Any]:
        if self.client is None:
            page = await self.backend.scan(None, 10_000)
            return [item for _, item in page.items]
        items: list[Any] = []
        for table in self.tables:
            items += (await self.client.scan(TableName=table))["Items"]
        return items


@pytest.fixture(params=["memory", "dynamodb"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    if request.param == "memory":
        yield Rig(MemoryStorage(clock=lambda: STAMP), None, [])
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(dynamodb_client(endpoint))
        table = await stack.enter_async_context(fresh_table(client))
        key_table = await stack.enter_async_context(fresh_key_table(client))
        backend = storage_on(client, table, key_table=key_table, clock=lambda: STAMP)
        yield Rig(backend, client, [table, key_table])


VALUES = {f"k{n:02d}": f"person{n}@acme.com" for n in range(23)}


async def seed_plaintext(rig: Rig) -> None:
    records = [Record(k, v, app_id="shop") for k, v in VALUES.items()]
    assert await rig.backend.put_many(records) == [None] * len(records)


async def test_encrypt_seals_every_plaintext_item_and_keeps_its_timestamps(rig: Rig) -> None:
    await seed_plaintext(rig)
    store = rig.store()
    await store.put_many([Record("sealed-already", "x@acme.com")])
    pages: list[Tally] = []

    async def page_done(tally: Tally) -> None:
        pages.append(Tally(**vars(tally)))

    tally = await rewrite(store, "encrypt", page_size=10, on_page=page_done)

    assert (tally.scanned, tally.rewritten, tally.already) == (24, 23, 1)
    assert (tally.changed, tally.unreadable, tally.failed, tally.done) == (0, 0, 0, True)
    assert len(pages) >= 3
    assert found_values(VALUES.values(), await rig.resting()) == []
    got = await store.get_many(list(VALUES))
    assert {r.modified_value: r.original_value for r in got if isinstance(r, Record)} == VALUES
    assert all(
        isinstance(r, Record)
        and (r.created_at, r.updated_at, r.app_id)
        == (
            STAMP,
            STAMP,
            "shop",
        )
        for r in got
    )
    assert (await store.find("PERSON7@acme.com")).keys == ["k07"]  # indexed as well


async def test_encrypt_again_changes_nothing(rig: Rig) -> None:
    await seed_plaintext(rig)
    store = rig.store()
    await rewrite(store, "encrypt")
    before = await rig.resting()

    again = await rewrite(store, "encrypt")

    assert (again.rewritten, again.already) == (0, 23)
    assert await rig.resting() == before


async def test_an_interrupted_run_resumes_where_it_stopped(rig: Rig) -> None:
    await seed_plaintext(rig)
    store = rig.store()

    class Stop(Exception):
        pass

    kept: list[str | None] = []

    async def crash_after_first_page(tally: Tally) -> None:
        kept.append(tally.resume_after)
        raise Stop

    with pytest.raises(Stop):
        await rewrite(store, "encrypt", page_size=8, on_page=crash_after_first_page)
    first = await rewrite(store, "encrypt", page_size=8, resume_after=kept[0])

    assert first.scanned == 23 - 8
    assert first.rewritten + 8 == 23
    assert found_values(VALUES.values(), await rig.resting()) == []


async def test_reencrypt_moves_every_record_to_the_current_version(rig: Rig) -> None:
    old_store = rig.store()
    await old_store.put_many([Record(k, v) for k, v in VALUES.items()])
    new_version = rig.rotate()
    store = rig.store()
    # New writes use the new version at once; old records stay readable.
    await store.put_many([Record("fresh", "fresh@acme.com")])
    assert all(isinstance(r, Record) for r in await store.get_many(list(VALUES)))

    tally = await rewrite(store, "reencrypt", page_size=5)

    assert (tally.rewritten, tally.already, tally.plaintext) == (23, 1, 0)
    resting = [item for _, item in (await rig.backend.scan(None, 100)).items]
    assert {r.sealed.key_version for r in resting if isinstance(r, SealedRecord)} == {new_version}
    # The old key is no longer needed to read anything.
    got = await rig.store(only_current=True).get_many([*VALUES, "fresh"])
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        *VALUES.values(),
        "fresh@acme.com",
    ]
    if rig.client is not None:  # one pad a record: the replaced ones are gone
        assert len((await rig.client.scan(TableName=rig.tables[1]))["Items"]) == 24


async def test_reencrypt_leaves_plaintext_to_encrypt(rig: Rig) -> None:
    await seed_plaintext(rig)

    tally = await rewrite(rig.store(), "reencrypt")

    assert (tally.rewritten, tally.plaintext) == (0, 23)


async def test_a_write_between_the_read_and_the_rewrite_wins(rig: Rig) -> None:
    await seed_plaintext(rig)
    store = rig.store()
    await store.put_many([Record("sealed", "before@acme.com")])
    page = await rig.backend.scan(None, 100)
    seen = dict(page.items)
    # The server writes both keys after the operator command read them.
    await store.put_many([Record("k01", "written@acme.com"), Record("sealed", "after@acme.com")])
    envelope = await store.envelope()
    stale = await envelope.seal_many([Record("k01", VALUES["k01"]), Record("sealed", "before")])

    outcomes = await rig.backend.replace_sealed(
        [(seen["k01"], stale[0]), (seen["sealed"], stale[1])]  # type: ignore[list-item]
    )

    assert outcomes == [CHANGED, CHANGED]
    got = await store.get_many(["k01", "sealed"])
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        "written@acme.com",
        "after@acme.com",
    ]
    if rig.client is not None:  # the pads of the refused rewrites are gone
        assert len((await rig.client.scan(TableName=rig.tables[1]))["Items"]) == 2


async def test_an_unreadable_item_is_counted_and_left_alone(rig: Rig) -> None:
    store = rig.store()
    await store.put_many([Record("k", "k@acme.com")])
    rig.rotate()
    rig.keys.pop(next(iter(rig.keys)))  # the first version is lost

    tally = await rewrite(rig.store(), "reencrypt")

    assert (tally.unreadable, tally.rewritten) == (1, 0)
