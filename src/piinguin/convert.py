"""The one place where protocol messages become storage records and back."""

from __future__ import annotations

from piinguin.v1 import PiiRecord
from storage import Record


def record_from_message(message: PiiRecord) -> Record:
    # created_at / updated_at are the server's to set: whatever the caller sent is dropped.
    # Positional: this runs for every record of every bulk write.
    return Record(
        message.modified_value,
        message.original_value,
        message.field_name,
        message.json_path,
        message.schema,
        message.hash_function,
        message.app_id,
        message.collector_tstamp,
    )


def message_from_record(record: Record) -> PiiRecord:
    return PiiRecord(
        modified_value=record.modified_value,
        original_value=record.original_value,
        field_name=record.field_name,
        json_path=record.json_path,
        schema=record.schema,
        hash_function=record.hash_function,
        app_id=record.app_id,
        collector_tstamp=record.collector_tstamp,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
