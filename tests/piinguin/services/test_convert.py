"""Messages and records convert field by field, each value to its own field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from piinguin import v1
from piinguin.services.convert import message_from_record, record_from_message
from storage import Record

COLLECTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
UPDATED = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
TEXT = (
    "modified_value",
    "original_value",
    "field_name",
    "json_path",
    "schema",
    "hash_function",
    "app_id",
)
#: Each text field named after itself, to spread into a message.
NAMED: dict[str, Any] = {name: name for name in TEXT}


def test_a_record_becomes_the_message_with_the_same_field_values() -> None:
    record = Record(*TEXT, collector_tstamp=COLLECTED, created_at=CREATED, updated_at=UPDATED)

    message = message_from_record(record)

    assert message == v1.PiiRecord(
        **NAMED,
        collector_tstamp=COLLECTED,
        created_at=CREATED,
        updated_at=UPDATED,
    )
    assert message._unknown_fields == b""


def test_a_message_becomes_the_record_without_the_server_s_timestamps() -> None:
    message = v1.PiiRecord(
        **NAMED,
        collector_tstamp=COLLECTED,
        created_at=CREATED,
        updated_at=UPDATED,
        restricted=True,
    )

    record = record_from_message(message)

    assert type(record) is Record
    assert tuple(record) == (*TEXT, COLLECTED, None, None, None, False)


def test_messages_declare_the_records_fields_in_the_same_order() -> None:
    record_fields = list(Record._fields)
    message_fields = [field.name for field in dataclasses.fields(v1.PiiRecord)]

    assert message_fields[: len(record_fields)] == record_fields


def test_a_record_s_restriction_is_answered() -> None:
    record = Record(*TEXT, restricted=True)

    assert message_from_record(record).restricted is True


def test_a_record_s_expiry_is_answered() -> None:
    record = Record(*TEXT, collector_tstamp=COLLECTED, expires_at=UPDATED)

    assert message_from_record(record).expires_at == UPDATED


def test_a_read_result_declares_its_status_before_its_record() -> None:
    # the service builds one per record of a bulk read, positionally
    assert [field.name for field in dataclasses.fields(v1.ReadResult)] == ["status", "record"]
