"""In-memory backends for development and tests: records and audit events, each behind
the same interface as the real backend and behaving like it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.frozen import builder
from storage.records import ReadOutcome, Record, WriteOutcome

_record = builder(Record)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryStorage:
    """A dict behind the ``Storage`` interface.

    Each call completes without awaiting, so it is atomic with respect to other calls on
    the same event loop. Records are frozen, so what goes in and out cannot be changed
    behind the store's back.
    """

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._records: dict[str, Record] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._records)

    async def check(self) -> None:
        return None

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        now = self._clock()
        for record in records:
            previous = self._records.get(record.modified_value)
            created_at = previous.created_at if previous is not None else now
            # Built directly: dataclasses.replace() costs several times as much per record.
            self._records[record.modified_value] = _record(
                record.modified_value,
                record.original_value,
                record.field_name,
                record.json_path,
                record.schema,
                record.hash_function,
                record.app_id,
                record.collector_tstamp,
                created_at,
                now,
            )
        return [None] * len(records)

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        return [self._records.get(key) for key in keys]

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        for key in keys:
            self._records.pop(key, None)
        return [None] * len(keys)


class MemoryAuditStore:
    def __init__(self) -> None:
        self._events: list[AuditEvent] = []

    def __len__(self) -> int:
        return len(self._events)

    async def check(self) -> None:
        return None

    async def append(self, event: AuditEvent) -> None:
        self._events.append(event)

    async def query(self, query: AuditQuery) -> AuditPage:
        start = _offset(query.page_token)
        matches = [
            _narrowed(event, query.modified_value)
            for event in sorted(self._events, key=lambda e: (e.time, e.event_id))
            if _matches(event, query)
        ]
        page = matches[start : start + query.limit]
        more = start + query.limit < len(matches)
        return AuditPage(page, str(start + query.limit) if more else "")


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise ValueError("page_token was not issued by this server")
    return int(token)


def _matches(event: AuditEvent, query: AuditQuery) -> bool:
    if query.principal and event.principal != query.principal:
        return False
    if query.modified_value and all(k.modified_value != query.modified_value for k in event.keys):
        return False
    if query.since is not None and event.time < query.since:
        return False
    return query.until is None or event.time < query.until


def _narrowed(event: AuditEvent, key: str) -> AuditEvent:
    if not key:
        return event
    return dataclasses.replace(event, keys=tuple(k for k in event.keys if k.modified_value == key))
