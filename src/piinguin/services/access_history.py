"""A record's access history, as the audit log tells it, for a data-subject export
(GDPR Art. 15(1)(c): the recipients to whom the personal data have been disclosed).

The history of one pseudonym is every audit event that named it, oldest first: reads,
finds, exports, deletes and refusals alike. The recipients are the principals an
original was disclosed to: those whose read or export of it succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from grpclib.const import Status

from piinguin.access.auditing import AUDIT_LOG
from piinguin.logs import STATUS_NAMES
from piinguin.stored import stored
from piinguin.v1 import basis_name, ground_name
from storage import AuditStore
from storage.audit import AuditEvent, AuditQuery

#: The most events read for one pseudonym: an export stays bounded whatever a key's
#: history holds (a relay re-reading a key daily for years); past it the document says so.
MAX_EVENTS_PER_KEY = 10_000
#: The most events read for one export, all its pseudonyms together: a request may name
#: a thousand pseudonyms, and a thousand full histories would be ten million events.
MAX_EVENTS_PER_EXPORT = 100_000
PAGE_SIZE = 1000
#: The operations that answer an original value: who did one successfully received it.
DISCLOSING = frozenset({"read", "export"})


class History(NamedTuple):
    """One pseudonym's audit events, oldest first, and whether they are all of them."""

    events: list[AuditEvent]
    complete: bool


async def history(store: AuditStore, key: str, *, limit: int = MAX_EVENTS_PER_KEY) -> History:
    """The events naming ``key``, at most ``limit`` of them; UNAVAILABLE when the audit
    log cannot be read (an export without its history would understate it)."""
    events: list[AuditEvent] = []
    token = ""
    while True:
        size = min(PAGE_SIZE, limit - len(events) + 1)
        query = AuditQuery(modified_value=key, limit=size, page_token=token)
        page = await stored(store.query(query), store=AUDIT_LOG)
        events.extend(page.events)
        token = page.next_page_token
        if len(events) > limit:
            return History(events[:limit], complete=False)
        if not token:
            return History(events, complete=True)


async def histories(
    store: AuditStore, keys: Sequence[str], *, budget: int = MAX_EVENTS_PER_EXPORT
) -> list[History]:
    """Each key's ``history``, in order, at most ``budget`` events in all: once it is
    spent, the histories left are empty and incomplete (not read at all)."""
    found: list[History] = []
    for key in keys:
        limit = min(MAX_EVENTS_PER_KEY, budget)
        found.append(await history(store, key, limit=limit) if limit else History([], False))
        budget -= len(found[-1].events)
    return found


def _key_code(event: AuditEvent, key: str) -> int:
    """The outcome the event records for ``key``: a bulk call's code is the call's."""
    return next((k.code for k in event.keys if k.modified_value == key), event.code)


def _status_name(code: int) -> str:
    return STATUS_NAMES.get(code) or str(code)


def _time(moment: datetime) -> str:
    return moment.isoformat()


def access_entries(key: str, events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """The export's ``access`` list of one record."""
    return [
        {
            "time": _time(event.time),
            "principal": event.principal,
            "operation": event.operation,
            "lawful_basis": basis_name(event.lawful_basis),
            "purpose": event.purpose,
            "method": event.method,
            "request_id": event.request_id,
            "code": _status_name(_key_code(event, key)),
            "legacy": event.legacy,
            # The Art. 18(2) ground a read of the record, restricted, stated ("unspecified").
            "restriction_ground": ground_name(event.restriction_ground),
        }
        for event in events
    ]


def recipients(histories: Sequence[tuple[str, Sequence[AuditEvent]]]) -> list[dict[str, Any]]:
    """The export's ``recipients``: each principal an original was disclosed to, with how
    many records it received and when first and last, by principal."""
    seen: dict[str, dict[str, Any]] = {}
    for key, events in histories:
        for event in events:
            if event.operation not in DISCLOSING or _key_code(event, key) != Status.OK.value:
                continue
            entry = seen.setdefault(
                event.principal,
                {
                    "principal": event.principal,
                    "disclosures": 0,
                    "first": event.time,
                    "last": event.time,
                },
            )
            entry["disclosures"] += 1
            entry["first"] = min(entry["first"], event.time)
            entry["last"] = max(entry["last"], event.time)
    return [
        {**entry, "first": _time(entry["first"]), "last": _time(entry["last"])}
        for _, entry in sorted(seen.items())
    ]
