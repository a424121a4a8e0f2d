"""Test doubles, all in one place.

- Storage: ``FaultyStorage`` (whole-call and per-key failures around a real MemoryStorage)
  and its variants that hold, crowd or stop the server; ``SlowStorage``; ``FailingMarks``
  (marks and restriction flags that fail on demand).
- Audit: ``RecordingAudit`` (keeps what was appended), ``WatchedAudit`` (any store, its
  appends awaitable), ``FailingAuditStore`` (appends fail),
  ``UnreachableAudit`` (queries fail).
- A scripted ``piinguin.v1`` service, for answers the real server never gives.
- A Lambda context.

DynamoDB faults are injected at the aioboto3 client instead, by
``tests/storage/dynamodb/faults.py``: a wrapper of a real client against moto, bound to
DynamoDB's request shapes, used by the DynamoDB backend's tests alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.server import PiinguinServer
from piinguin.v1 import AuditEvent as V1AuditEvent
from piinguin.v1 import (
    AuditKey,
    DeletePiiRecordsRequest,
    DeletePiiRecordsResponse,
    ExportSubjectResponse,
    ItemStatus,
    ListAuditEventsRequest,
    ListAuditEventsResponse,
    PiinguinBase,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
    SubjectRequest,
)
from storage import (
    AuditStore,
    ItemFailed,
    Lookup,
    MarkKind,
    Marks,
    MemoryStorage,
    ReadOutcome,
    Record,
    StorageError,
    StorageMisconfigured,
    StorageUnavailable,
    WriteOutcome,
)
from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryAuditStore
from storage.records import SealedRecord


class FaultyStorage:
    """MemoryStorage that fails whole calls while ``down`` and single keys in ``failing``."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.down: type[Exception] | None = None
        self.failing: set[str] = set()

    def _gate(self) -> None:
        if self.down is StorageMisconfigured:
            raise StorageMisconfigured("table 'piinguin' does not exist")
        if self.down is not None:
            raise StorageUnavailable("cannot reach the backend")

    async def check(self) -> None:
        self._gate()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self._gate()
        ok = [r for r in records if r.modified_value not in self.failing]
        await self.inner.put_many(ok)
        return [
            ItemFailed("storage did not process the item in time")
            if r.modified_value in self.failing
            else None
            for r in records
        ]

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        self._gate()
        found = await self.inner.get_many(keys)
        return [
            ItemFailed("storage did not process the item in time") if k in self.failing else r
            for k, r in zip(keys, found, strict=True)
        ]

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        self._gate()
        await self.inner.delete_many([k for k in keys if k not in self.failing])
        return [
            ItemFailed("storage did not process the item in time") if k in self.failing else None
            for k in keys
        ]

    # The data-subject calls fail whole while ``down``, as the others do.

    async def value_digest(self, value: str) -> str | None:
        self._gate()
        return await self.inner.value_digest(value)

    async def find(self, value: str) -> Lookup:
        self._gate()
        return await self.inner.find(value)

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        self._gate()
        await self.inner.mark(kind, pseudonyms, digests, reference=reference, at=at)

    async def unmark(
        self, kind: MarkKind, pseudonyms: Sequence[str], digests: Sequence[str]
    ) -> None:
        self._gate()
        await self.inner.unmark(kind, pseudonyms, digests)

    async def marks(self, pseudonyms: Sequence[str], digests: Sequence[str]) -> Marks:
        self._gate()
        return await self.inner.marks(pseudonyms, digests)

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        self._gate()
        return await self.inner.set_restricted(keys, restricted)


class FailingMarks(MemoryStorage):
    """MemoryStorage whose marks and restriction flags fail while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        if self.down:
            raise StorageUnavailable("cannot reach the backend")
        await super().mark(kind, pseudonyms, digests, reference=reference, at=at)

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        if self.down:
            raise StorageUnavailable("cannot reach the backend")
        return await super().set_restricted(keys, restricted)


class SlowStorage(MemoryStorage):
    """Holds every write, plain or sealed, until ``release`` is set; ``entered`` tells a
    write has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.entered.set()
        await self.release.wait()
        return await super().put_many(records)

    async def put_sealed(self, records: Sequence[SealedRecord]) -> list[WriteOutcome]:
        self.entered.set()
        await self.release.wait()
        return await super().put_sealed(records)


class FailingAuditStore(MemoryAuditStore):
    """An audit store whose appends fail with ``error`` (a ``StorageError`` class): reads
    must fail closed."""

    def __init__(self, error: type[StorageError] = StorageUnavailable) -> None:
        super().__init__()
        self.error = error

    async def append(self, event: AuditEvent) -> None:
        raise self.error("audit table unreachable")


class Hangs(FaultyStorage):
    """Holds every bulk write after the first ``writes`` until ``release`` is set."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes
        self.release = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.writes -= 1
        if self.writes < 0:
            await self.release.wait()
        return await super().put_many(records)


class StopsAfter(FaultyStorage):
    """Fails no key, but starts ``server``'s drain once ``writes`` bulk writes are in:
    every later call is refused, then finds the port closed."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes
        self.server: PiinguinServer | None = None
        self.drain: asyncio.Task[None] | None = None

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        outcomes = await super().put_many(records)
        self.writes -= 1
        if self.writes == 0 and self.server is not None:
            # A task: the drain refuses new calls at once and lets this one answer.
            self.drain = asyncio.create_task(self.server.drain())
        return outcomes


class Crowded(FaultyStorage):
    """Holds each bulk write until ``expected`` are in flight (two seconds at most), and
    records the most that ever were."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.in_flight = self.most = 0
        self.full = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight >= self.expected:
            self.full.set()
        try:
            async with asyncio.timeout(2):
                await self.full.wait()
        except TimeoutError:
            pass
        self.in_flight -= 1
        return await super().put_many(records)


class RecordingAudit(MemoryAuditStore):
    """A memory audit store that also keeps every event appended, in order, for tests."""

    def __init__(self) -> None:
        super().__init__()
        self.appended: list[AuditEvent] = []

    async def append(self, event: AuditEvent) -> None:
        await super().append(event)
        self.appended.append(event)


class WatchedAudit:
    """Any audit store, whose appends a test can wait for (``wait_for``) instead of
    polling it."""

    def __init__(self, inner: AuditStore) -> None:
        self.inner = inner
        self.appended: list[AuditEvent] = []
        self._changed = asyncio.Condition()

    async def check(self) -> None:
        await self.inner.check()

    async def append(self, event: AuditEvent) -> None:
        await self.inner.append(event)
        async with self._changed:
            self.appended.append(event)
            self._changed.notify_all()

    async def query(self, query: AuditQuery) -> AuditPage:
        return await self.inner.query(query)

    async def wait_for(self, done: Callable[[list[AuditEvent]], bool]) -> None:
        """Until ``done(appended)``, ten seconds at most."""
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: done(self.appended))


class UnreachableAudit(MemoryAuditStore):
    """An audit log that stores events but cannot be listed."""

    async def query(self, query: AuditQuery) -> AuditPage:
        raise StorageUnavailable("audit table unreachable")


#: Read purposes ``ScriptedService`` understands besides a status name such as "INTERNAL".
HANG = "hang"
NO_RECORD = "no record"


class ScriptedService(PiinguinBase):
    """A ``piinguin.v1`` service whose answers the read purpose picks: a status name is
    raised as that status, ``HANG`` waits for ``release``, ``NO_RECORD`` answers OK with
    no record. An export answers its purpose as the document."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        if message.purpose == HANG:
            await self.release.wait()
        if message.purpose == NO_RECORD:
            return ReadPiiRecordResponse()
        raise GRPCError(Status[message.purpose], f"scripted {message.purpose}")

    async def read_pii_records(self, message: ReadPiiRecordsRequest) -> ReadPiiRecordsResponse:
        # Whatever was asked: an OK without a record, then a code gRPC does not define.
        return ReadPiiRecordsResponse(
            results=[
                ReadResult(status=ItemStatus()),
                ReadResult(status=ItemStatus(code=99, message="from the future")),
            ]
        )

    async def delete_pii_records(
        self, message: DeletePiiRecordsRequest
    ) -> DeletePiiRecordsResponse:
        return DeletePiiRecordsResponse(results=[])

    async def list_audit_events(self, message: ListAuditEventsRequest) -> ListAuditEventsResponse:
        # One event whose codes a newer server might send: gRPC defines no 99.
        return ListAuditEventsResponse(
            events=[
                V1AuditEvent(
                    event_id="e1",
                    principal="relay",
                    operation="read",
                    code=99,
                    keys=[AuditKey(modified_value="k1", code=99)],
                )
            ]
        )

    async def export_subject(self, message: SubjectRequest) -> ExportSubjectResponse:
        # The export's purpose is the document answered, as it is, JSON or not.
        return ExportSubjectResponse(document=message.purpose)


@dataclass
class LambdaContext:
    """The part of Lambda's context object the relay's handler reads."""

    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class WriteLandsMidFind(EncryptedStorage):
    """A write of a new pseudonym of the value lands just after the value's lookup, as
    one does while the erasure is still finding the person, before its tombstones."""

    def __init__(self, landing: Record) -> None:
        super().__init__(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")
        self.landing: list[Record] = [landing]

    async def find(self, value: str) -> Lookup:
        lookup = await super().find(value)
        if self.landing:
            assert await self.put_many([self.landing.pop()]) == [None]
        return lookup
