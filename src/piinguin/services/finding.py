"""FindSubject and ExportSubject (GDPR Art. 15).

Both find the person's records with ``Subjects.resolve`` and are audited with the keys
they answer before they answer: an audit log that cannot take the event means the caller
gets UNAVAILABLE and nothing. Find answers provenance only; export answers the originals
too, and each record's access history from the audit log (``access_history``), read
before the export's own event is written, so that an export lists earlier exports, not
itself. The export document's layout is the README's ("Export").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from grpclib.const import Status

from piinguin.services.access_history import access_entries, histories, recipients
from piinguin.services.subjects import Resolved, Subjects
from piinguin.v1 import (
    ExportSubjectResponse,
    FindSubjectResponse,
    SubjectRecord,
    SubjectRequest,
    basis_name,
)
from storage import Record
from storage.audit import AuditEvent, KeyOutcome

EXPORT_FORMAT = "piinguin.subject-export/1"


def subject_record(record: Record, found_by: list[str]) -> SubjectRecord:
    """Everything about ``record`` but its original value."""
    return SubjectRecord(
        modified_value=record.modified_value,
        field_name=record.field_name,
        json_path=record.json_path,
        schema=record.schema,
        hash_function=record.hash_function,
        app_id=record.app_id,
        collector_tstamp=record.collector_tstamp,
        created_at=record.created_at,
        updated_at=record.updated_at,
        expires_at=record.expires_at,
        restricted=record.restricted,
        found_by=found_by,
    )


def _outcomes(resolved: Resolved) -> list[KeyOutcome]:
    """Each key the act looked at, with what it found there: a named pseudonym that is
    not stored is NOT_FOUND, a candidate that could not be opened DATA_LOSS."""
    found = [KeyOutcome(key, Status.OK.value) for key in sorted(resolved.records)]
    absent = [
        KeyOutcome(key, Status.NOT_FOUND.value)
        for key in resolved.named
        if key not in resolved.records and key not in resolved.unreadable
    ]
    damaged = [KeyOutcome(key, Status.DATA_LOSS.value) for key in resolved.unreadable]
    return [*found, *absent, *damaged]


async def find(subjects: Subjects, message: SubjectRequest) -> FindSubjectResponse:
    resolved = await subjects.resolve(message, "find")
    await subjects.gate.record(
        "find",
        Status.OK,
        _outcomes(resolved),
        basis=message.lawful_basis,
        purpose=message.purpose,
    )
    return FindSubjectResponse(
        records=[
            subject_record(resolved.records[key], resolved.found_by[key])
            for key in sorted(resolved.records)
        ],
        unreadable=resolved.unreadable,
        complete=resolved.complete,
    )


def _moment(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _exported_record(
    record: Record, found_by: list[str], events: list[AuditEvent], complete: bool
) -> dict[str, Any]:
    return {
        "modified_value": record.modified_value,
        "original_value": record.original_value,
        "field_name": record.field_name,
        "json_path": record.json_path,
        "schema": record.schema,
        "hash_function": record.hash_function,
        "app_id": record.app_id,
        "collector_tstamp": _moment(record.collector_tstamp),
        "first_seen": _moment(record.created_at),
        "last_seen": _moment(record.updated_at),
        "expires_at": _moment(record.expires_at),
        "restricted": record.restricted,
        "found_by": found_by,
        "access": access_entries(record.modified_value, events),
        "access_complete": complete,
    }


async def export(subjects: Subjects, message: SubjectRequest) -> ExportSubjectResponse:
    resolved = await subjects.resolve(message, "export")
    store = subjects.gate.auditor.store
    keys = sorted(resolved.records)
    read = await histories(store, keys)
    caller = subjects.gate.caller()
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": caller.principal,
        "lawful_basis": basis_name(message.lawful_basis),
        "purpose": message.purpose,
        "complete": resolved.complete,
        "access_complete": all(h.complete for h in read),
        "records": [
            _exported_record(resolved.records[key], resolved.found_by[key], h.events, h.complete)
            for key, h in zip(keys, read, strict=True)
        ],
        "recipients": recipients([(k, h.events) for k, h in zip(keys, read, strict=True)]),
        "unreadable": resolved.unreadable,
    }
    await subjects.gate.record(
        "export",
        Status.OK,
        _outcomes(resolved),
        basis=message.lawful_basis,
        purpose=message.purpose,
    )
    return ExportSubjectResponse(document=json.dumps(document, ensure_ascii=False, indent=2))
