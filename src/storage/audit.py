"""Audit events and the queries that find them again; ``storage.base`` has the interface of
the stores that keep them.

An audit event records one call that touched, or tried to touch, personal data: who, what,
which keys with which outcome, on what lawful basis and for what purpose. It never holds an
original value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple


class KeyOutcome(NamedTuple):
    modified_value: str
    code: int  # the numeric gRPC status code of this key's result; 0 is OK


class AuditEvent(NamedTuple):
    event_id: str
    time: datetime
    principal: str
    operation: str  # read, write, delete, audit, find, export, erase, restrict, unrestrict
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
    #: How many calls the event stands for: more than one only for the unauthenticated
    #: calls from one address past its audit budget within one second, recorded together.
    calls: int = 1
    #: The GDPR Art. 18(2) ground a read stated to reach restricted records (0: none), by
    #: the number of ``piinguin.v1.RestrictionGround``.
    restriction_ground: int = 0


class AuditQuery(NamedTuple):
    """At least one of ``modified_value`` and ``principal``, or a time range alone."""

    modified_value: str = ""
    principal: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 100
    page_token: str = ""


class AuditPage(NamedTuple):
    events: Sequence[AuditEvent] = ()
    next_page_token: str = ""  # empty when there is nothing more
