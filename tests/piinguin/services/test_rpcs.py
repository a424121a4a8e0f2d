"""Every RPC and every status path of piinguin.v1, through the generated stub."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.v1 import (
    CreatePiiRecordRequest,
    CreatePiiRecordsRequest,
    DeletePiiRecordRequest,
    DeletePiiRecordsRequest,
    LawfulBasis,
    ListAuditEventsRequest,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
)

from .conftest import MAX_BULK_ITEMS, MAX_MESSAGE_BYTES

KEY = "7d8a4beae5bc9d314600667d2f410918f9af265017a6ade99f60a9c8f3aac6e9"


async def create(
    stub: PiinguinStub, key: str = KEY, value: str = "john@acme.com", **kw: object
) -> None:
    await stub.create_pii_record(
        CreatePiiRecordRequest(record=PiiRecord(modified_value=key, original_value=value, **kw))  # type: ignore[arg-type]
    )


def read_request(key: str = KEY, **kw: Any) -> ReadPiiRecordRequest:
    fields: dict[str, Any] = {
        "lawful_basis": LawfulBasis.CONSENT,
        "purpose": "support ticket 42",
    }
    fields.update(kw)
    return ReadPiiRecordRequest(modified_value=key, **fields)


async def expect_status(call: Awaitable[object], status: Status) -> str:
    with pytest.raises(GRPCError) as info:
        await call
    assert info.value.status is status, info.value.message
    return info.value.message or ""


async def test_create_then_read_returns_record_with_provenance(stub: PiinguinStub) -> None:
    tstamp = datetime(2017, 7, 14, 3, 39, 39, tzinfo=UTC)
    await create(
        stub,
        field_name="user_id",
        hash_function="SHA-256",
        app_id="ads",
        collector_tstamp=tstamp,
        json_path="$.email",
        schema="iglu:com.acme/x/jsonschema/1-0-0",
    )

    response = await stub.read_pii_record(read_request())

    record = response.record
    assert record is not None
    assert (record.modified_value, record.original_value) == (KEY, "john@acme.com")
    assert (record.field_name, record.hash_function, record.app_id) == ("user_id", "SHA-256", "ads")
    assert (record.json_path, record.schema) == ("$.email", "iglu:com.acme/x/jsonschema/1-0-0")
    assert record.collector_tstamp == tstamp
    assert record.created_at is not None
    assert record.updated_at is not None


async def test_overwrite_is_last_write_wins_and_server_sets_timestamps(stub: PiinguinStub) -> None:
    forged = datetime(2001, 1, 1, tzinfo=UTC)
    await create(stub, value="old@acme.com", created_at=forged, updated_at=forged)
    first = (await stub.read_pii_record(read_request())).record
    await create(stub, value="new@acme.com")

    second = (await stub.read_pii_record(read_request())).record

    assert first is not None
    assert second is not None
    assert first.created_at != forged
    assert second.original_value == "new@acme.com"
    assert second.created_at == first.created_at
    assert second.updated_at is not None
    assert first.updated_at is not None
    assert second.updated_at >= first.updated_at


async def test_create_answers_nothing_about_the_old_value(stub: PiinguinStub) -> None:
    await create(stub, value="old@acme.com")

    response = await stub.create_pii_record(
        CreatePiiRecordRequest(record=PiiRecord(modified_value=KEY, original_value="new@acme.com"))
    )

    assert bytes(response) == b""


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (None, "record is required"),
        (PiiRecord(modified_value="", original_value="v"), "modified_value is empty"),
        (PiiRecord(modified_value="k", original_value=""), "original_value is empty"),
        (PiiRecord(modified_value="k" * 2049, original_value="v"), "longer than 2048 bytes"),
        (PiiRecord(modified_value="é" * 1025, original_value="v"), "longer than 2048 bytes"),
        (
            PiiRecord(modified_value="k", original_value="ü" * 32769),
            "original_value is longer than 65536 bytes",
        ),
        (
            PiiRecord(modified_value="k", original_value="v", app_id="a" * 2049),
            "app_id is longer than 2048 characters",
        ),
    ],
)
async def test_create_rejects_bad_records(
    stub: PiinguinStub, record: PiiRecord | None, problem: str
) -> None:
    message = await expect_status(
        stub.create_pii_record(CreatePiiRecordRequest(record=record)), Status.INVALID_ARGUMENT
    )
    assert problem in message


#: What a read-many line looks like: a key holding it would write its value into the
#: audit log as a key.
TAB_KEY = f"{KEY}\tjohn@acme.com"
CONTROL = "modified_value holds a control character (U+0009)"


async def test_every_rpc_refuses_a_key_holding_a_control_character(
    stub: PiinguinStub, log_output: Callable[[], str]
) -> None:
    record = PiiRecord(modified_value=TAB_KEY, original_value="v")
    singles = [
        stub.create_pii_record(CreatePiiRecordRequest(record=record)),
        stub.read_pii_record(read_request(TAB_KEY)),
        stub.delete_pii_record(DeletePiiRecordRequest(modified_value=TAB_KEY)),
        stub.list_audit_events(ListAuditEventsRequest(modified_value=TAB_KEY)),
    ]
    messages = [await expect_status(call, Status.INVALID_ARGUMENT) for call in singles]
    created = await stub.create_pii_records(CreatePiiRecordsRequest(records=[record]))
    read = await stub.read_pii_records(
        ReadPiiRecordsRequest(
            modified_values=[TAB_KEY], lawful_basis=LawfulBasis.CONSENT, purpose="p"
        )
    )
    deleted = await stub.delete_pii_records(DeletePiiRecordsRequest(modified_values=[TAB_KEY]))

    assert messages == [CONTROL] * 4
    assert [(r.code, r.message) for r in created.results] == [(3, f"records[0]: {CONTROL}")]
    assert [(r.status.code, r.status.message) for r in read.results if r.status] == [
        (3, f"modified_values[0]: {CONTROL}")
    ]
    assert [(r.code, r.message) for r in deleted.results] == [(3, f"modified_values[0]: {CONTROL}")]
    assert "john@acme.com" not in log_output()


async def test_key_of_exactly_2048_bytes_is_accepted(stub: PiinguinStub) -> None:
    key = "é" * 1024
    await create(stub, key=key)

    response = await stub.read_pii_record(read_request(key))

    assert response.record is not None


async def test_read_missing_key_is_not_found(stub: PiinguinStub) -> None:
    await expect_status(stub.read_pii_record(read_request("absent")), Status.NOT_FOUND)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"lawful_basis": LawfulBasis.UNSPECIFIED}, "lawful_basis is required"),
        ({"lawful_basis": 42}, "lawful_basis 42 is not a known basis"),
        ({"purpose": ""}, "purpose is required"),
        ({"purpose": "   "}, "purpose is required"),
        ({"purpose": "x" * 1025}, "purpose is longer than 1024"),
    ],
)
async def test_read_without_justification_is_invalid_and_returns_nothing(
    stub: PiinguinStub, overrides: dict[str, Any], problem: str
) -> None:
    await create(stub)

    message = await expect_status(
        stub.read_pii_record(read_request(**overrides)), Status.INVALID_ARGUMENT
    )

    assert problem in message
    assert "john@acme.com" not in message


@pytest.mark.parametrize("basis", [b for b in LawfulBasis if b != LawfulBasis.UNSPECIFIED])
async def test_read_accepts_every_lawful_basis(stub: PiinguinStub, basis: LawfulBasis) -> None:
    await create(stub)

    response = await stub.read_pii_record(read_request(lawful_basis=basis))

    assert response.record is not None


async def test_read_with_empty_key_is_invalid(stub: PiinguinStub) -> None:
    await expect_status(stub.read_pii_record(read_request("")), Status.INVALID_ARGUMENT)


async def test_delete_removes_and_missing_key_is_idempotent_success(stub: PiinguinStub) -> None:
    await create(stub)

    await stub.delete_pii_record(DeletePiiRecordRequest(modified_value=KEY))
    await stub.delete_pii_record(DeletePiiRecordRequest(modified_value=KEY))

    await expect_status(stub.read_pii_record(read_request()), Status.NOT_FOUND)


async def test_delete_with_empty_key_is_invalid(stub: PiinguinStub) -> None:
    await expect_status(
        stub.delete_pii_record(DeletePiiRecordRequest(modified_value="")), Status.INVALID_ARGUMENT
    )


async def test_bulk_create_answers_in_order_with_a_bad_item_in_the_middle(
    stub: PiinguinStub,
) -> None:
    records = [
        PiiRecord(modified_value="a", original_value="1"),
        PiiRecord(modified_value="b", original_value=""),
        PiiRecord(modified_value="", original_value="3"),
        PiiRecord(modified_value="d", original_value="4"),
    ]

    response = await stub.create_pii_records(CreatePiiRecordsRequest(records=records))

    assert [r.code for r in response.results] == [0, 3, 3, 0]
    assert response.results[1].message == "records[1]: original_value is empty"
    assert response.results[2].message == "records[2]: modified_value is empty"
    read = await stub.read_pii_records(
        ReadPiiRecordsRequest(
            modified_values=["a", "b", "d"], lawful_basis=LawfulBasis.CONTRACT, purpose="audit"
        )
    )
    assert [r.status.code if r.status else 0 for r in read.results] == [0, 5, 0]


async def test_bulk_create_with_duplicate_keys_keeps_the_last(stub: PiinguinStub) -> None:
    records = [
        PiiRecord(modified_value="dup", original_value="first"),
        PiiRecord(modified_value="dup", original_value="last"),
    ]

    response = await stub.create_pii_records(CreatePiiRecordsRequest(records=records))

    assert [r.code for r in response.results] == [0, 0]
    read = await stub.read_pii_record(read_request("dup"))
    assert read.record is not None
    assert read.record.original_value == "last"


async def test_bulk_read_answers_in_order_with_missing_and_bad_keys(stub: PiinguinStub) -> None:
    await create(stub, key="k1", value="v1")
    await create(stub, key="k3", value="v3")

    response = await stub.read_pii_records(
        ReadPiiRecordsRequest(
            modified_values=["k3", "", "missing", "k1", "k3"],
            lawful_basis=LawfulBasis.LEGAL_OBLIGATION,
            purpose="court order 7",
        )
    )

    statuses = [
        (r.status.code, r.status.message) if r.status else (0, "") for r in response.results
    ]
    assert statuses == [
        (0, ""),
        (3, "modified_values[1]: modified_value is empty"),
        (5, "no record is stored under this key"),
        (0, ""),
        (0, ""),
    ]
    values = [r.record.original_value if r.record else None for r in response.results]
    assert values == ["v3", None, None, "v1", "v3"]


@pytest.mark.parametrize(
    ("basis", "purpose", "problem"),
    [
        (LawfulBasis.UNSPECIFIED, "p", "lawful_basis is required"),
        (LawfulBasis.CONSENT, "", "purpose is required"),
    ],
)
async def test_bulk_read_without_justification_fails_the_call(
    stub: PiinguinStub, basis: LawfulBasis, purpose: str, problem: str
) -> None:
    await create(stub)

    message = await expect_status(
        stub.read_pii_records(
            ReadPiiRecordsRequest(modified_values=[KEY], lawful_basis=basis, purpose=purpose)
        ),
        Status.INVALID_ARGUMENT,
    )

    assert problem in message


async def test_bulk_delete_answers_in_order(stub: PiinguinStub) -> None:
    await create(stub, key="x")

    response = await stub.delete_pii_records(
        DeletePiiRecordsRequest(modified_values=["x", "", "never"])
    )

    assert [(r.code, r.message) for r in response.results] == [
        (0, ""),
        (3, "modified_values[1]: modified_value is empty"),
        (0, ""),
    ]
    await expect_status(stub.read_pii_record(read_request("x")), Status.NOT_FOUND)


@pytest.mark.parametrize("rpc", ["create", "read", "delete"])
async def test_oversized_batch_fails_the_whole_call(stub: PiinguinStub, rpc: str) -> None:
    count = MAX_BULK_ITEMS + 1
    keys = [f"k{i}" for i in range(count)]
    call: Awaitable[object]
    if rpc == "create":
        call = stub.create_pii_records(
            CreatePiiRecordsRequest(
                records=[PiiRecord(modified_value=k, original_value="v") for k in keys]
            )
        )
    elif rpc == "read":
        call = stub.read_pii_records(
            ReadPiiRecordsRequest(
                modified_values=keys, lawful_basis=LawfulBasis.CONSENT, purpose="p"
            )
        )
    else:
        call = stub.delete_pii_records(DeletePiiRecordsRequest(modified_values=keys))

    message = await expect_status(call, Status.INVALID_ARGUMENT)

    assert message == f"too many items: {count} > {MAX_BULK_ITEMS} per call"


async def test_batch_at_the_limit_is_accepted(stub: PiinguinStub) -> None:
    records = [PiiRecord(modified_value=f"k{i}", original_value="v") for i in range(MAX_BULK_ITEMS)]

    response = await stub.create_pii_records(CreatePiiRecordsRequest(records=records))

    assert [r.code for r in response.results] == [0] * MAX_BULK_ITEMS


async def test_message_over_the_size_limit_is_resource_exhausted(stub: PiinguinStub) -> None:
    record = PiiRecord(modified_value="big", original_value="x" * (MAX_MESSAGE_BYTES + 1))

    message = await expect_status(
        stub.create_pii_record(CreatePiiRecordRequest(record=record)), Status.RESOURCE_EXHAUSTED
    )

    assert "exceeds the limit" in message
