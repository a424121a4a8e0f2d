"""Storage stand-ins around the real memory backends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from storage import (
    ItemFailed,
    MemoryStorage,
    ReadOutcome,
    Record,
    StorageError,
    StorageMisconfigured,
    StorageUnavailable,
    WriteOutcome,
)
from storage.audit import AuditEvent
from storage.memory import MemoryAuditStore


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


class SlowStorage(MemoryStorage):
    """Holds every write until ``release`` is set; ``entered`` tells a write has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.entered.set()
        await self.release.wait()
        return await super().put_many(records)


class FailingAuditStore(MemoryAuditStore):
    """An audit store whose appends fail with ``error`` (a ``StorageError`` class)."""

    def __init__(self, error: type[StorageError]) -> None:
        super().__init__()
        self.error = error

    async def append(self, event: AuditEvent) -> None:
        raise self.error("audit table unreachable")
