"""Every ``PiinguinClient`` method against a real server over a socket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from grpclib.const import Status

from piinguin.client import (
    InvalidArgument,
    ItemResult,
    LawfulBasis,
    PiinguinClient,
    PiiRecord,
    ReadItemResult,
    RecordNotFound,
    ResourceExhausted,
)
from tests.piinguin.client.conftest import MAX_BULK_ITEMS, MAX_MESSAGE_BYTES, Vault

BASIS, PURPOSE = LawfulBasis.CONSENT, "support ticket 42"
TSTAMP = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def record(key: str, value: str = "") -> PiiRecord:
    return PiiRecord(
        modified_value=key,
        original_value=value or f"{key}@example.com",
        field_name="user_id",
        hash_function="SHA-256",
        app_id="shop",
        collector_tstamp=TSTAMP,
    )


async def test_create_then_read_returns_the_record_with_provenance(
    client: PiinguinClient,
) -> None:
    await client.create_record(record("k1", "alice@example.com"))

    got = await client.read_record("k1", basis=BASIS, purpose=PURPOSE)

    assert (got.modified_value, got.original_value) == ("k1", "alice@example.com")
    assert (got.field_name, got.hash_function, got.app_id) == ("user_id", "SHA-256", "shop")
    assert got.collector_tstamp == TSTAMP
    assert got.created_at is not None
    assert got.updated_at is not None


async def test_read_of_a_missing_key_raises_record_not_found(client: PiinguinClient) -> None:
    with pytest.raises(RecordNotFound) as caught:
        await client.read_record("missing", basis=LawfulBasis.CONTRACT, purpose="audit")

    assert caught.value.status is Status.NOT_FOUND
    assert caught.value.message == "no record is stored under this key"


@pytest.mark.parametrize(
    ("basis", "purpose", "problem"),
    [
        (LawfulBasis.UNSPECIFIED, "audit", "lawful_basis is required"),
        (LawfulBasis.CONSENT, "  ", "purpose is required"),
    ],
)
async def test_read_without_a_justification_raises_invalid_argument(
    client: PiinguinClient, basis: LawfulBasis, purpose: str, problem: str
) -> None:
    await client.create_record(record("k1"))

    with pytest.raises(InvalidArgument, match=problem) as caught:
        await client.read_record("k1", basis=basis, purpose=purpose)

    assert caught.value.status is Status.INVALID_ARGUMENT


async def test_create_without_an_original_value_raises_invalid_argument(
    client: PiinguinClient,
) -> None:
    with pytest.raises(InvalidArgument, match="original_value is empty"):
        await client.create_record(PiiRecord(modified_value="k1"))


async def test_delete_removes_the_record_and_is_idempotent(
    client: PiinguinClient, vault: Vault
) -> None:
    await client.create_record(record("k1"))

    await client.delete_record("k1")
    await client.delete_record("k1")

    assert len(vault.storage) == 0
    with pytest.raises(RecordNotFound):
        await client.read_record("k1", basis=BASIS, purpose=PURPOSE)


async def test_delete_of_an_empty_key_raises_invalid_argument(client: PiinguinClient) -> None:
    with pytest.raises(InvalidArgument, match="modified_value is empty"):
        await client.delete_record("")


async def test_a_request_over_the_size_limit_raises_resource_exhausted(
    client: PiinguinClient, vault: Vault
) -> None:
    value = "v" * MAX_MESSAGE_BYTES

    with pytest.raises(ResourceExhausted, match="exceeds the limit") as caught:
        await client.create_record(record("k1", value))

    assert caught.value.status is Status.RESOURCE_EXHAUSTED
    assert value not in str(caught.value)
    assert len(vault.storage) == 0


async def test_every_call_goes_over_one_connection(client: PiinguinClient, vault: Vault) -> None:
    await client.create_record(record("k1"))
    await client.read_record("k1", basis=BASIS, purpose=PURPOSE)
    await client.read_records(["k1"], basis=BASIS, purpose=PURPOSE)
    await client.delete_record("k1")

    assert len(vault.calls) == 4
    assert len({call.peer_port for call in vault.calls}) == 1


async def test_token_and_metadata_go_with_every_call(vault: Vault) -> None:
    async with PiinguinClient(vault.target, token="t0k3n", metadata={"x-team": "support"}) as c:
        await c.delete_record("k1")
        await c.delete_records(["k1"])

    assert [call.metadata for call in vault.calls] == [
        {"authorization": "Bearer t0k3n", "x-team": "support"}
    ] * 2


# -- bulk ---------------------------------------------------------------------------------


async def test_create_records_answers_in_order_with_a_bad_item_in_the_middle(
    client: PiinguinClient, vault: Vault
) -> None:
    results = await client.create_records(
        [record("k1"), PiiRecord(modified_value="k2"), record("k3")]
    )

    assert results == [
        ItemResult(Status.OK, ""),
        ItemResult(Status.INVALID_ARGUMENT, "records[1]: original_value is empty"),
        ItemResult(Status.OK, ""),
    ]
    assert [r.ok for r in results] == [True, False, True]
    stored = await vault.storage.get_many(["k1", "k2", "k3"])
    assert [r is not None for r in stored] == [True, False, True]


async def test_read_records_answers_in_order_with_records_for_found_keys(
    client: PiinguinClient,
) -> None:
    await client.create_records([record("k1"), record("k3")])

    results = await client.read_records(["k1", "", "missing", "k3"], basis=BASIS, purpose=PURPOSE)

    assert [(r.status, r.message) for r in results] == [
        (Status.OK, ""),
        (Status.INVALID_ARGUMENT, "modified_values[1]: modified_value is empty"),
        (Status.NOT_FOUND, "no record is stored under this key"),
        (Status.OK, ""),
    ]
    assert all(isinstance(r, ReadItemResult) for r in results)
    assert [r.record.original_value if r.record else None for r in results] == [
        "k1@example.com",
        None,
        None,
        "k3@example.com",
    ]


async def test_read_records_without_a_justification_fails_as_a_whole(
    client: PiinguinClient,
) -> None:
    with pytest.raises(InvalidArgument, match="lawful_basis is required"):
        await client.read_records(["k1"], basis=LawfulBasis.UNSPECIFIED, purpose="audit")


async def test_delete_records_answers_in_order(client: PiinguinClient, vault: Vault) -> None:
    await client.create_records([record("k1"), record("k3")])

    results = await client.delete_records(["k1", "", "k3", "never-stored"])

    assert results == [
        ItemResult(Status.OK, ""),
        ItemResult(Status.INVALID_ARGUMENT, "modified_values[1]: modified_value is empty"),
        ItemResult(Status.OK, ""),
        ItemResult(Status.OK, ""),
    ]
    assert len(vault.storage) == 0


async def test_more_items_than_the_server_allows_raise_invalid_argument(
    client: PiinguinClient,
) -> None:
    keys = [f"k{i}" for i in range(MAX_BULK_ITEMS + 1)]

    with pytest.raises(InvalidArgument, match="too many items"):
        await client.delete_records(keys)


async def test_empty_bulk_calls_answer_no_results(client: PiinguinClient) -> None:
    assert await client.create_records([]) == []
    assert await client.read_records([], basis=BASIS, purpose=PURPOSE) == []
    assert await client.delete_records([]) == []
