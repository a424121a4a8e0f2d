"""Audit events and the interface of the stores that keep them.

An audit event records one call that touched, or tried to touch, personal data: who, what,
which keys with which outcome, on what lawful basis and for what purpose. It never holds an
original value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyOutcome:
    modified_value: str
    code: int  # the numeric gRPC status code of this key's result; 0 is OK


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event_id: str
    time: datetime
    principal: str
    operation: str  # read, write, delete, audit
    method: str
    code: int  # the call's gRPC status code
    keys: tuple[KeyOutcome, ...] = ()
    lawful_basis: int = 0
    purpose: str = ""
    request_id: str = ""
    peer: str = ""
    #: The call came through the original piinguin's API, whose enum makes CONSENT the
    #: default: its basis cannot be told apart from one the caller left out.
    legacy: bool = False


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """At least one of ``modified_value`` and ``principal``, or a time range alone."""

    modified_value: str = ""
    principal: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 100
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: Sequence[AuditEvent] = field(default_factory=tuple)
    next_page_token: str = ""  # empty when there is nothing more


class AuditStore(Protocol):
    """Keeps audit events. ``append`` must not return before the event is durable:
    readers of personal data wait on it (fail closed).

    A query by key answers events narrowed to that key's outcome; events come oldest
    first. Whole-call problems raise ``StorageError`` subclasses; a page token that
    this store did not issue raises ``ValueError``.
    """

    async def check(self) -> None: ...

    async def append(self, event: AuditEvent) -> None: ...

    async def query(self, query: AuditQuery) -> AuditPage: ...
