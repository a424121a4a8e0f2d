"""EncryptedStorage over the memory backend: what rests, what reads back, lookups by value.
(The contract suite runs it too, as ``memory-encrypted``; tests/storage/dynamodb has the
same on DynamoDB.)"""

from __future__ import annotations

import secrets

import pytest

from storage import ItemFailed, MemoryStorage, Record
from storage.crypto import IndexKey, Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.records import SealedRecord
from tests.storage.leaks import found_values


def encrypted(backend: MemoryStorage, *, index_bits: int = 16) -> EncryptedStorage:
    version = secrets.token_hex(4)
    keys = LocalKeys(
        {version: secrets.token_bytes(32)},
        version,
        IndexKey(secrets.token_bytes(32), index_bits),
        scheme="ephemeral",
    )
    return EncryptedStorage(backend, Keyring(keys), vault="memory")


async def test_no_original_rests_in_the_backend_in_any_encoding() -> None:
    backend = MemoryStorage()
    store = encrypted(backend)
    values = [f"person{n}@acme.com" for n in range(50)]
    await store.put_many([Record(f"k{n}", v, field_name="user_id") for n, v in enumerate(values)])

    resting = await backend.get_stored([f"k{n}" for n in range(50)])

    assert all(isinstance(r, SealedRecord) for r in resting)
    assert found_values(values, resting) == []
    # The check itself finds what it looks for.
    assert found_values(values, await store.get_many(["k3"])) == [
        "'person3@acme.com' as b'person3@acme.com'"
    ]


async def test_plaintext_items_written_before_encryption_read_as_they_are() -> None:
    backend = MemoryStorage()
    await backend.put_many([Record("old", "old@acme.com", app_id="shop")])
    store = encrypted(backend)
    await store.put_many([Record("new", "new@acme.com")])

    old, new = await store.get_many(["old", "new"])

    assert isinstance(old, Record)
    assert (old.original_value, old.app_id) == ("old@acme.com", "shop")
    assert isinstance(new, Record)
    assert new.original_value == "new@acme.com"


async def test_the_backend_alone_refuses_to_hand_out_a_sealed_item() -> None:
    backend = MemoryStorage()
    await encrypted(backend).put_many([Record("k", "v@acme.com")])

    [outcome] = await backend.get_many(["k"])

    assert isinstance(outcome, ItemFailed)
    assert outcome.damaged


async def test_find_answers_every_key_of_a_normalised_value_and_nothing_else() -> None:
    # 8 bits: 256 index values for 600 values, so most index values stand for several.
    backend = MemoryStorage()
    store = encrypted(backend, index_bits=8)
    records = [Record(f"k{n}", f"user{n}@acme.com") for n in range(600)]
    records += [Record("ip", "::ffff:10.0.0.7"), Record("ip4", "10.0.0.7")]
    await store.put_many(records)
    index = (await store.envelope()).index
    assert index is not None
    # A value whose index value other values share too.
    shared = 0
    while len(await backend.find_index(index(f"user{shared}@acme.com"))) < 2:
        shared += 1
    await store.put_many([Record("upper", f"  USER{shared}@Acme.com")])

    found = await store.find(f"User{shared}@ACME.com")

    assert found.keys == sorted([f"k{shared}", "upper"])
    assert found.unreadable == []
    assert len(await backend.find_index(index(f"user{shared}@acme.com"))) > 2
    assert (await store.find("10.0.0.7")).keys == ["ip", "ip4"]


async def test_find_follows_overwrites_and_deletes() -> None:
    backend = MemoryStorage()
    store = encrypted(backend)
    await store.put_many([Record("k", "old@acme.com"), Record("gone", "old@acme.com")])
    await store.put_many([Record("k", "new@acme.com")])
    await store.delete_many(["gone"])

    assert (await store.find("old@acme.com")).keys == []
    assert (await store.find("new@acme.com")).keys == ["k"]


async def test_find_reports_candidates_it_cannot_open() -> None:
    backend = MemoryStorage()
    store = encrypted(backend)
    await store.put_many([Record("k", "x@acme.com"), Record("j", "x@acme.com")])
    [resting] = await backend.get_stored(["j"])
    assert isinstance(resting, SealedRecord)
    broken = resting.sealed._replace(ciphertext=bytes(len(resting.sealed.ciphertext)))
    await backend.put_sealed([resting._replace(sealed=broken)])

    found = await store.find("x@acme.com")

    assert found.keys == ["k"]
    assert found.unreadable == ["j"]


@pytest.mark.parametrize("value", ["", " "])
async def test_find_of_a_value_no_one_has_answers_nothing(value: str) -> None:
    store = encrypted(MemoryStorage())
    await store.put_many([Record("k", "x@acme.com")])

    assert (await store.find(value)).keys == []
