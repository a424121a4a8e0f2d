"""``ListAuditEvents``: who accessed which keys, when and why."""

from __future__ import annotations

from grpclib.const import Status

from piinguin.access.auditing import AUDIT_LOG
from piinguin.access.context import count_items
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.services.validation import invalid_argument, key_problem
from piinguin.stored import stored
from piinguin.v1 import (
    AuditEvent,
    AuditKey,
    LawfulBasis,
    ListAuditEventsRequest,
    ListAuditEventsResponse,
    RestrictionGround,
)
from storage.audit import AuditEvent as StoredEvent
from storage.audit import AuditQuery, KeyOutcome

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _query(message: ListAuditEventsRequest) -> AuditQuery:
    if not (message.modified_value or message.principal or message.since or message.until):
        raise invalid_argument("give a modified_value, a principal or a time range")
    if message.modified_value:
        problem = key_problem(message.modified_value)
        if problem is not None:
            raise invalid_argument(problem)
    if message.since and message.until and message.since >= message.until:
        raise invalid_argument("since must be before until")
    if message.page_size > MAX_PAGE_SIZE:
        raise invalid_argument(f"page_size is over {MAX_PAGE_SIZE}")
    return AuditQuery(
        modified_value=message.modified_value,
        principal=message.principal,
        since=message.since,
        until=message.until,
        limit=message.page_size or DEFAULT_PAGE_SIZE,
        page_token=message.page_token,
    )


def _message(event: StoredEvent) -> AuditEvent:
    return AuditEvent(
        event_id=event.event_id,
        time=event.time,
        principal=event.principal,
        operation=event.operation,
        method=event.method,
        code=event.code,
        keys=[AuditKey(modified_value=k.modified_value, code=k.code) for k in event.keys],
        lawful_basis=LawfulBasis(event.lawful_basis),
        purpose=event.purpose,
        request_id=event.request_id,
        peer=event.peer,
        legacy=event.legacy,
        calls=event.calls,
        restriction_ground=RestrictionGround(event.restriction_ground),
    )


async def list_audit_events(
    gate: Gatekeeper, message: ListAuditEventsRequest
) -> ListAuditEventsResponse:
    key = message.modified_value
    await gate.require("audit", [key] if key else [])
    query = _query(message)
    try:
        page = await stored(gate.auditor.store.query(query), store=AUDIT_LOG)
    except ValueError as exc:
        raise invalid_argument("page_token is not valid") from exc
    count_items(len(page.events))
    # Reading the audit log is itself recorded: who looked at whose history.
    await gate.record("audit", Status.OK, [KeyOutcome(key, Status.OK.value)] if key else [])
    return ListAuditEventsResponse(
        events=[_message(e) for e in page.events], next_page_token=page.next_page_token
    )
