"""Storage and audit trouble reach legacy clients in-band, in our words, with no value.

These use our own generated stub (grpclib) on a real socket, on the insecure policy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import pytest
from grpclib.client import Channel

from piinguin.services.legacy_protocol import (
    SERVICE_NAME,
    ChangeRecordResponse,
    CreatePiiRecordRequest,
    DeletePiiRecordRequest,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    Status,
)
from piinguin.wire import from_wire, to_wire
from storage import MemoryStorage, Record, StorageMisconfigured, StorageUnavailable
from tests.conftest import ServerFactory
from tests.doubles import FailingAuditStore, FaultyStorage

pytestmark = pytest.mark.socket

VALUE = "john@acme.com"
ITEM_FAILED = "storage is unavailable: storage did not process the item in time"


@pytest.fixture
async def faulty() -> FaultyStorage:
    storage = FaultyStorage()
    await storage.inner.put_many([Record("stored", VALUE), Record("flaky", VALUE)])
    return storage


@pytest.fixture
async def stub(start_server: ServerFactory, faulty: FaultyStorage) -> AsyncIterator[PiinguinStub]:
    async with start_server(faulty, legacy_api=True) as server:
        channel = Channel("127.0.0.1", server.port)
        try:
            yield PiinguinStub(channel)
        finally:
            channel.close()


def statuses(responses: Sequence[ChangeRecordResponse | ReadPiiRecordResponse]) -> list[Status]:
    return [r.status or Status() for r in responses]


async def every_call(stub: PiinguinStub, key: str) -> list[Any]:
    """The six calls, each on ``key``; the streams with one message."""
    create = CreatePiiRecordRequest(pii_record=PiiRecord(modified_value=key, original_value="x"))
    read = ReadPiiRecordRequest(modified_value=key)
    delete = DeletePiiRecordRequest(modified_value=key)
    return [
        await stub.read_pii_record(read),
        *[r async for r in stub.read_pii_records([read])],
        await stub.create_pii_record(create),
        *[r async for r in stub.create_pii_records([create])],
        await stub.delete_pii_record(delete),
        *[r async for r in stub.delete_pii_records([delete])],
    ]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (StorageUnavailable, "storage is unavailable"),
        (StorageMisconfigured, "storage is not usable as configured"),
    ],
)
async def test_storage_down_fails_every_call_in_band(
    stub: PiinguinStub,
    faulty: FaultyStorage,
    error: type[Exception],
    message: str,
    log_output: Callable[[], str],
) -> None:
    faulty.down = error

    responses = await every_call(stub, "stored")

    assert statuses(responses) == [Status(message=message, is_success=False)] * 6
    assert not any(getattr(r, "pii_record", None) for r in responses)
    assert VALUE not in log_output()


async def test_a_failed_item_fails_alone(stub: PiinguinStub, faulty: FaultyStorage) -> None:
    faulty.failing = {"flaky"}
    reads = [ReadPiiRecordRequest(modified_value=key) for key in ("stored", "flaky", "stored")]

    responses = [r async for r in stub.read_pii_records(reads)]
    single = await every_call(stub, "flaky")

    assert statuses(responses) == [
        Status(is_success=True),
        Status(message=ITEM_FAILED),
        Status(is_success=True),
    ]
    assert [r.pii_record.original_value if r.pii_record else "" for r in responses] == [
        VALUE,
        "",
        VALUE,
    ]
    assert statuses(single) == [Status(message=ITEM_FAILED)] * 6


async def test_a_read_whose_audit_event_cannot_be_stored_returns_nothing(
    start_server: ServerFactory, log_output: Callable[[], str]
) -> None:
    storage = MemoryStorage()
    await storage.put_many([Record("stored", VALUE)])
    async with start_server(storage, legacy_api=True, audit=FailingAuditStore()) as server:
        channel = Channel("127.0.0.1", server.port)
        try:
            stub = PiinguinStub(channel)
            read = ReadPiiRecordRequest(modified_value="stored")
            responses = [
                await stub.read_pii_record(read),
                *[r async for r in stub.read_pii_records([read, read])],
            ]
        finally:
            channel.close()

    assert statuses(responses) == [Status(message="the audit log is unavailable")] * 3
    assert not any(r.pii_record for r in responses)
    assert VALUE not in log_output()


async def test_a_delete_whose_audit_event_cannot_be_stored_stands_and_succeeds(
    start_server: ServerFactory, log_output: Callable[[], str]
) -> None:
    storage = MemoryStorage()
    await storage.put_many([Record(key, VALUE) for key in ("one", "two", "three")])
    async with start_server(storage, legacy_api=True, audit=FailingAuditStore()) as server:
        channel = Channel("127.0.0.1", server.port)
        try:
            stub = PiinguinStub(channel)
            deletes = [DeletePiiRecordRequest(modified_value=k) for k in ("two", "three")]
            responses = [
                await stub.delete_pii_record(DeletePiiRecordRequest(modified_value="one")),
                *[r async for r in stub.delete_pii_records(deletes)],
            ]
        finally:
            channel.close()

    assert statuses(responses) == [Status(is_success=True)] * 3
    assert await storage.get_many(["one", "two", "three"]) == [None] * 3
    lines = [json.loads(line) for line in log_output().splitlines()]
    audited = [line["event_id"] for line in lines if line["event"] == "audit"]
    lost = [line["event_id"] for line in lines if line.get("store") == "the audit log"]
    assert len(audited) in (2, 3)  # the unary delete, and the stream's batch or batches
    assert lost == audited
    assert VALUE not in log_output()


def raw_stream(port: int, method: str, payloads: list[bytes]) -> tuple[list[bytes], Any]:
    """Bytes in, bytes out, with grpcio: what a client with a corrupt encoder would send."""
    answers: list[bytes] = []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.stream_stream(method)
        try:
            answers.extend(call(iter(payloads), timeout=10))
        except grpc.RpcError as exc:
            return answers, exc.code()
    return answers, grpc.StatusCode.OK


async def test_an_undecodable_message_ends_a_stream_after_answering_those_before(
    start_server: ServerFactory,
) -> None:
    good = bytes(DeletePiiRecordRequest(modified_value="k"))
    async with start_server(legacy_api=True) as server:
        answers, code = await asyncio.to_thread(
            raw_stream,
            server.port,
            f"/{SERVICE_NAME}/DeletePiiRecords",
            [good, good, b"\x0a\x05ab"],
        )

    assert [ChangeRecordResponse.FromString(a).status for a in answers] == [
        Status(is_success=True)
    ] * 2
    assert code is grpc.StatusCode.INVALID_ARGUMENT


async def test_the_legacy_api_is_off_by_default(start_server: ServerFactory) -> None:
    read = bytes(ReadPiiRecordRequest(modified_value="k"))
    async with start_server() as server:
        answers, code = await asyncio.to_thread(
            raw_stream, server.port, f"/{SERVICE_NAME}/ReadPiiRecords", [read]
        )

    assert (answers, code) == ([], grpc.StatusCode.UNIMPLEMENTED)


@pytest.mark.parametrize(
    "message",
    [
        CreatePiiRecordRequest(pii_record=PiiRecord(modified_value="k", original_value=VALUE)),
        CreatePiiRecordRequest(pii_record=PiiRecord()),
        CreatePiiRecordRequest(),
        ReadPiiRecordRequest(modified_value="k", processing_basis=3),  # type: ignore[arg-type]
        ChangeRecordResponse(status=Status(message="m", is_success=True)),
        ReadPiiRecordResponse(
            pii_record=PiiRecord(modified_value="k", original_value=VALUE), status=Status()
        ),
    ],
)
def test_the_codec_speaks_the_original_field_names(message: Any) -> None:
    # upb names the fields modifiedValue, betterproto2 modified_value: the codec maps them.
    assert to_wire(message) == bytes(message)
    assert from_wire(type(message), bytes(message)) == message
