"""Audit events in memory, for development and tests."""

from __future__ import annotations

import dataclasses

from storage.audit import AuditEvent, AuditPage, AuditQuery


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
