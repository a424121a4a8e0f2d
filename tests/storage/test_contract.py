"""The behaviour every storage backend must share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import ItemFailed, Record, Storage, SubjectStorage
from storage.encrypted import EncryptedStorage
from storage.records import SealedRecord
from tests.storage.conftest import Retained


def make_record(key: str, value: str = "value", **provenance: object) -> Record:
    return Record(modified_value=key, original_value=value, **provenance)  # type: ignore[arg-type]


async def test_check_passes_on_a_ready_store(storage: Storage) -> None:
    await storage.check()


async def test_put_then_get_returns_every_field(storage: Storage) -> None:
    tstamp = datetime(2017, 7, 14, 3, 39, 39, 123000, tzinfo=UTC)
    record = make_record(
        "k1",
        "john@acme.com",
        field_name="contexts",
        json_path="$.emailAddress",
        schema="iglu:com.acme/email_sent/jsonschema/1-0-0",
        hash_function="SHA-256",
        app_id="ads",
        collector_tstamp=tstamp,
    )
    assert await storage.put_many([record]) == [None]

    [got] = await storage.get_many(["k1"])

    assert isinstance(got, Record)
    assert got.modified_value == "k1"
    assert got.original_value == "john@acme.com"
    assert got.field_name == "contexts"
    assert got.json_path == "$.emailAddress"
    assert got.schema == "iglu:com.acme/email_sent/jsonschema/1-0-0"
    assert got.hash_function == "SHA-256"
    assert got.app_id == "ads"
    assert got.collector_tstamp == tstamp
    assert got.created_at is not None
    assert got.updated_at is not None
    assert got.created_at.tzinfo is not None
    assert got.expires_at is None  # no retention: never


async def test_minimal_record_round_trips(storage: Storage) -> None:
    await storage.put_many([make_record("bare", "x")])

    [got] = await storage.get_many(["bare"])

    assert isinstance(got, Record)
    assert (got.original_value, got.field_name, got.collector_tstamp) == ("x", "", None)


async def test_missing_key_reads_as_none_in_order(storage: Storage) -> None:
    await storage.put_many([make_record("a", "1"), make_record("c", "3")])

    got = await storage.get_many(["a", "b", "c"])

    assert [r.original_value if isinstance(r, Record) else r for r in got] == ["1", None, "3"]


async def test_overwrite_is_last_write_wins_and_keeps_created_at(storage: Storage) -> None:
    await storage.put_many([make_record("k", "old", app_id="a1")])
    [first] = await storage.get_many(["k"])
    await storage.put_many([make_record("k", "new")])

    [second] = await storage.get_many(["k"])

    assert isinstance(first, Record)
    assert isinstance(second, Record)
    assert second.original_value == "new"
    assert second.app_id == ""
    assert second.created_at == first.created_at
    assert second.updated_at is not None
    assert first.updated_at is not None
    assert second.updated_at >= first.updated_at


async def test_duplicate_keys_in_one_put_collapse_to_the_last(storage: Storage) -> None:
    outcomes = await storage.put_many(
        [make_record("d", "first"), make_record("e", "other"), make_record("d", "last")]
    )

    assert outcomes == [None, None, None]
    got = await storage.get_many(["d", "e", "d"])
    assert [r.original_value for r in got if isinstance(r, Record)] == ["last", "other", "last"]


async def test_values_passed_for_server_timestamps_are_ignored(storage: Storage) -> None:
    forged = datetime(2000, 1, 1, tzinfo=UTC)
    await storage.put_many([Record("t", "v", created_at=forged, updated_at=forged)])

    [got] = await storage.get_many(["t"])

    assert isinstance(got, Record)
    assert got.created_at != forged
    assert got.updated_at != forged


async def test_delete_removes_and_is_idempotent(storage: Storage) -> None:
    await storage.put_many([make_record("x"), make_record("y")])

    assert await storage.delete_many(["x", "never-stored", "x"]) == [None, None, None]

    got = await storage.get_many(["x", "y"])
    assert got[0] is None
    assert isinstance(got[1], Record)


async def test_empty_calls_do_nothing(storage: Storage) -> None:
    assert await storage.put_many([]) == []
    assert await storage.get_many([]) == []
    assert await storage.delete_many([]) == []


async def test_large_batch_round_trips(storage: Storage) -> None:
    records = [make_record(f"key-{i:04d}", f"value-{i}") for i in range(260)]

    assert await storage.put_many(records) == [None] * 260

    got = await storage.get_many([r.modified_value for r in reversed(records)])
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        f"value-{i}" for i in reversed(range(260))
    ]
    assert await storage.delete_many([r.modified_value for r in records]) == [None] * 260
    assert await storage.get_many(["key-0000", "key-0259"]) == [None, None]


async def test_unicode_and_max_length_keys(storage: Storage) -> None:
    key = "é" * 1024  # 2,048 UTF-8 bytes: the limit
    await storage.put_many([make_record(key, "ünïcødé ✓")])

    [got] = await storage.get_many([key])

    assert isinstance(got, Record)
    assert got.original_value == "ünïcødé ✓"


def test_record_repr_hides_the_original_value() -> None:
    record = make_record("k", "john@acme.com")

    assert "john@acme.com" not in repr(record)
    assert "john@acme.com" not in str(record)


def test_item_failed_is_a_value() -> None:
    assert ItemFailed("x") == ItemFailed("x")


@pytest.mark.parametrize("count", [1, 25, 26, 101])
async def test_batch_sizes_around_backend_limits(storage: Storage, count: int) -> None:
    records = [make_record(f"b{i}", str(i)) for i in range(count)]

    assert await storage.put_many(records) == [None] * count
    got = await storage.get_many([r.modified_value for r in records])
    assert all(isinstance(r, Record) for r in got)


# -- retention: the ``retained`` backends keep ``ip`` one second and the rest a day --------


async def test_a_record_expires_by_its_field_s_lifetime_and_reads_as_not_stored(
    retained: Retained,
) -> None:
    storage, clock = retained
    written = clock.now
    records = [make_record("short", "10.0.0.1", field_name="ip"), make_record("long", "x")]
    assert await storage.put_many(records) == [None, None]

    short, long = await storage.get_many(["short", "long"])
    # Rounded up to a whole second, as DynamoDB's TTL attribute holds it.
    whole = written.replace(microsecond=0) + timedelta(seconds=1)
    assert isinstance(short, Record)
    assert isinstance(long, Record)
    assert short.expires_at == whole + timedelta(seconds=1)
    assert long.expires_at == whole + timedelta(days=1)

    clock.advance(seconds=2)

    short, long = await storage.get_many(["short", "long"])
    assert short is None
    assert isinstance(long, Record)


async def test_writing_a_pair_again_extends_its_life(retained: Retained) -> None:
    storage, clock = retained
    await storage.put_many([make_record("k", "10.0.0.1", field_name="ip")])
    clock.advance(seconds=1.5)
    [before] = await storage.get_many(["k"])
    assert isinstance(before, Record)  # 1.5s on, within its second rounded up

    await storage.put_many([make_record("k", "10.0.0.1", field_name="ip")])
    clock.advance(seconds=0.5)

    [after] = await storage.get_many(["k"])
    assert isinstance(after, Record)  # past its first expiry
    assert before.expires_at is not None
    assert clock.now > before.expires_at
    assert after.expires_at == before.expires_at + timedelta(seconds=1)
    assert after.created_at == before.created_at
    clock.advance(seconds=1)
    assert await storage.get_many(["k"]) == [None]


async def test_a_pair_written_after_it_expired_is_a_new_record(retained: Retained) -> None:
    storage, clock = retained
    await storage.put_many([make_record("k", "old", field_name="ip")])
    clock.advance(seconds=3)

    await storage.put_many([make_record("k", "new", field_name="ip")])

    [got] = await storage.get_many(["k"])
    assert isinstance(got, Record)
    assert got.original_value == "new"
    assert got.created_at == clock.now


async def test_a_sealed_record_carries_its_digest_in_but_never_rests_with_it(
    encrypted: SubjectStorage,
) -> None:
    assert isinstance(encrypted, EncryptedStorage)
    [sealed] = await (await encrypted.envelope()).seal_many([Record("k", "john@acme.com")])
    assert sealed.sealed.digest == await encrypted.value_digest("john@acme.com")
    assert sealed.sealed.blind_index

    await encrypted.put_many([Record("k", "john@acme.com")])
    [stored] = await encrypted.backend.get_stored(["k"])

    assert isinstance(stored, SealedRecord)
    assert stored.sealed.digest == ""
    assert stored.sealed.blind_index == sealed.sealed.blind_index
