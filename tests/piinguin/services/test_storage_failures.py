"""Storage trouble reaches callers as UNAVAILABLE: per item in bulk calls, per call otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.auth import Authenticator
from piinguin.server import PiinguinServer
from piinguin.v1 import (
    CreatePiiRecordRequest,
    CreatePiiRecordsRequest,
    DeletePiiRecordRequest,
    DeletePiiRecordsRequest,
    LawfulBasis,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
)
from storage import Record, StorageMisconfigured, StorageUnavailable, WriteOutcome
from storage.audit import AuditEvent
from storage.memory import MemoryAuditStore
from tests.conftest import ServerFactory
from tests.doubles import FaultyStorage, RecordingAudit


@pytest.fixture
def faulty() -> FaultyStorage:
    return FaultyStorage()


@pytest.fixture
async def stub(start_server: ServerFactory, faulty: FaultyStorage) -> AsyncIterator[PiinguinStub]:
    async with start_server(faulty) as server:
        channel = Channel("127.0.0.1", server.port)
        try:
            yield PiinguinStub(channel)
        finally:
            channel.close()


CALLS = {
    "create": lambda s: s.create_pii_record(
        CreatePiiRecordRequest(
            record=PiiRecord(modified_value="k", original_value="secret@acme.com")
        )
    ),
    "read": lambda s: s.read_pii_record(
        ReadPiiRecordRequest(modified_value="k", lawful_basis=LawfulBasis.CONSENT, purpose="p")
    ),
    "delete": lambda s: s.delete_pii_record(DeletePiiRecordRequest(modified_value="k")),
    "create_many": lambda s: s.create_pii_records(
        CreatePiiRecordsRequest(records=[PiiRecord(modified_value="k", original_value="v")])
    ),
    "read_many": lambda s: s.read_pii_records(
        ReadPiiRecordsRequest(modified_values=["k"], lawful_basis=LawfulBasis.CONSENT, purpose="p")
    ),
    "delete_many": lambda s: s.delete_pii_records(DeletePiiRecordsRequest(modified_values=["k"])),
}


@pytest.mark.parametrize("rpc", sorted(CALLS))
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (StorageUnavailable, "storage is unavailable"),
        (StorageMisconfigured, "storage is not usable as configured"),
    ],
)
async def test_storage_outage_is_unavailable_with_our_message(
    stub: PiinguinStub, faulty: FaultyStorage, rpc: str, error: type[Exception], message: str
) -> None:
    faulty.down = error

    with pytest.raises(GRPCError) as info:
        await CALLS[rpc](stub)

    assert info.value.status is Status.UNAVAILABLE
    assert info.value.message == message


@pytest.mark.parametrize("rpc", ["create", "read", "delete"])
async def test_single_item_failure_is_unavailable(
    stub: PiinguinStub, faulty: FaultyStorage, rpc: str
) -> None:
    await faulty.inner.put_many([Record("k", "v")])
    faulty.failing.add("k")

    with pytest.raises(GRPCError) as info:
        await CALLS[rpc](stub)

    assert info.value.status is Status.UNAVAILABLE
    assert info.value.message == "storage did not process the item in time"


async def test_bulk_item_failures_are_reported_per_item(
    stub: PiinguinStub, faulty: FaultyStorage
) -> None:
    faulty.failing.add("b")

    created = await stub.create_pii_records(
        CreatePiiRecordsRequest(
            records=[PiiRecord(modified_value=k, original_value=k.upper()) for k in "abc"]
        )
    )
    read = await stub.read_pii_records(
        ReadPiiRecordsRequest(
            modified_values=list("abc"), lawful_basis=LawfulBasis.CONSENT, purpose="p"
        )
    )
    deleted = await stub.delete_pii_records(DeletePiiRecordsRequest(modified_values=list("abc")))

    assert [r.code for r in created.results] == [0, 14, 0]
    assert [r.status.code if r.status else 0 for r in read.results] == [0, 14, 0]
    assert read.results[1].record is None
    assert [r.code for r in deleted.results] == [0, 14, 0]


async def test_health_stays_not_serving_until_storage_answers(faulty: FaultyStorage) -> None:
    faulty.down = StorageUnavailable
    async with PiinguinServer(
        faulty,
        auth=Authenticator.insecure(),
        audit=MemoryAuditStore(),
        max_bulk_items=10,
        max_message_bytes=1 << 20,
        grace_period=1,
    ) as server:
        ready = asyncio.create_task(server.wait_ready(retry_interval=0.01))
        assert server.serving.__status__() is False
        faulty.down = None
        await ready
        assert server.serving.__status__() is True


class DeletesThenFails(FaultyStorage):
    """Deletes the first key, then fails the rest of the call, as a batched backend does
    when a later batch meets an error after earlier ones were written."""

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        await self.inner.delete_many(keys[:1])
        raise StorageUnavailable("the second batch could not be sent")


class DeletesForever(FaultyStorage):
    """A delete that never returns, so the call ends by cancellation."""

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        await self.inner.delete_many(keys)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class NotifyingAudit(RecordingAudit):
    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    async def append(self, event: AuditEvent) -> None:
        await super().append(event)
        self.arrived.set()


@pytest.mark.parametrize("bulk", [False, True])
async def test_a_delete_that_fails_partway_is_still_audited(
    start_server: ServerFactory, *, bulk: bool
) -> None:
    storage, audit = DeletesThenFails(), NotifyingAudit()
    await storage.inner.put_many([Record("a", "x@acme.com"), Record("b", "y@acme.com")])
    async with start_server(storage, audit=audit) as server:
        channel = Channel("127.0.0.1", server.port)
        stub = PiinguinStub(channel)
        call = (
            stub.delete_pii_records(DeletePiiRecordsRequest(modified_values=["a", "b"]))
            if bulk
            else stub.delete_pii_record(DeletePiiRecordRequest(modified_value="a"))
        )
        with pytest.raises(GRPCError) as raised:
            await call
        channel.close()
    assert raised.value.status is Status.UNAVAILABLE
    assert await storage.inner.get_many(["a"]) == [None]  # it happened
    [event] = audit.appended
    assert event.operation == "delete"
    assert event.code == Status.UNAVAILABLE.value
    keys = ["a", "b"] if bulk else ["a"]
    assert [(k.modified_value, k.code) for k in event.keys] == [
        (key, Status.UNAVAILABLE.value) for key in keys
    ]


async def test_a_delete_cancelled_by_the_clients_deadline_is_still_audited(
    start_server: ServerFactory,
) -> None:
    storage, audit = DeletesForever(), NotifyingAudit()
    await storage.inner.put_many([Record("a", "x@acme.com")])
    async with start_server(storage, audit=audit) as server:
        channel = Channel("127.0.0.1", server.port)
        with pytest.raises((GRPCError, asyncio.TimeoutError)):
            await PiinguinStub(channel).delete_pii_record(
                DeletePiiRecordRequest(modified_value="a"), timeout=0.3
            )
        await asyncio.wait_for(audit.arrived.wait(), 5)
        channel.close()
    [event] = audit.appended
    assert event.operation == "delete"
    assert [(k.modified_value, k.code) for k in event.keys] == [("a", Status.UNAVAILABLE.value)]
