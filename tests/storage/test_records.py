"""Records, outcomes and audit events are named tuples: immutable, positional, and a record
never shows its original value."""

from __future__ import annotations

import inspect
import logging
from datetime import UTC, datetime

import pytest

from storage import ItemFailed, MemoryStorage, Record
from storage.audit import AuditEvent, AuditPage, AuditQuery, KeyOutcome
from storage.dynamodb import DynamoDBStorage
from storage.records import utcnow

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "john@acme.com"
VALUES = (
    "k", SECRET, "user_id", "$.j", "iglu:s", "SHA-256", "app", MOMENT, MOMENT, None, None, True
)  # fmt: skip


@pytest.mark.parametrize("cls", [Record, ItemFailed, KeyOutcome, AuditEvent, AuditQuery, AuditPage])
def test_each_is_a_named_tuple(cls: type[tuple[object, ...]]) -> None:
    assert issubclass(cls, tuple)
    assert hasattr(cls, "_fields")


def test_a_record_takes_its_fields_positionally_in_declaration_order() -> None:
    record = Record(*VALUES)

    assert tuple(record) == VALUES
    assert record._fields[:2] == ("modified_value", "original_value")
    assert (record.field_name, record.collector_tstamp, record.updated_at) == (
        "user_id",
        MOMENT,
        None,
    )
    assert record.restricted is True


def test_a_record_cannot_be_changed_only_replaced() -> None:
    record = Record("k", SECRET)

    with pytest.raises(AttributeError):
        record.original_value = "changed"  # type: ignore[misc]
    changed = record._replace(original_value="changed")

    assert type(changed) is Record
    assert (record.original_value, changed.original_value) == (SECRET, "changed")


def test_defaults_leave_provenance_empty_and_times_unset() -> None:
    assert Record("k", SECRET) == Record("k", SECRET, "", "", "", "", "", None, None, None)
    assert Record("k", SECRET).restricted is False
    assert ItemFailed("r") == ("r", False, False)
    assert AuditQuery().limit == 100
    assert AuditPage() == ((), "")


def test_a_record_never_shows_its_original_value(caplog: pytest.LogCaptureFixture) -> None:
    record = Record(*VALUES)

    logging.getLogger("test").warning("got %s and %r", record, [record])

    shown = [repr(record), str(record), repr((record,)), f"{record}", caplog.text]
    shown.append(repr(record._replace(field_name="ip")))
    assert all(SECRET not in text for text in shown)
    assert all("<redacted>" in text for text in shown)


@pytest.mark.parametrize("backend", [MemoryStorage, DynamoDBStorage])
def test_every_backend_stamps_records_with_the_one_utc_clock(backend: type) -> None:
    assert inspect.signature(backend).parameters["clock"].default is utcnow
    assert utcnow().utcoffset() is not None
