"""The one place where protocol messages become storage records and back."""

from __future__ import annotations

from piinguin.v1 import PiiRecord
from storage import Record


def record_from_message(message: PiiRecord) -> Record:
    # created_at / updated_at are the server's to set: whatever the caller sent is dropped.
    # Positional, at half the cost of keywords: this runs for every record of every bulk write.
    return Record(
        message.modified_value,
        message.original_value,
        message.field_name,
        message.json_path,
        message.schema,
        message.hash_function,
        message.app_id,
        message.collector_tstamp,
        None,
        None,
    )


def message_from_record(record: Record) -> PiiRecord:
    # Positional too, at half the cost of keywords: the two declare their fields in the
    # same order (tests/server/test_convert.py).
    return PiiRecord(
        record.modified_value,
        record.original_value,
        record.field_name,
        record.json_path,
        record.schema,
        record.hash_function,
        record.app_id,
        record.collector_tstamp,
        record.created_at,
        record.updated_at,
    )
