"""The one place where protocol messages become storage records and back."""

from __future__ import annotations

from piinguin.v1 import PiiRecord
from storage import Record


def record_from_message(message: PiiRecord) -> Record:
    # created_at / updated_at are the server's to set: whatever the caller sent is dropped.
    return Record(
        modified_value=message.modified_value,
        original_value=message.original_value,
        field_name=message.field_name,
        json_path=message.json_path,
        schema=message.schema,
        hash_function=message.hash_function,
        app_id=message.app_id,
        collector_tstamp=message.collector_tstamp,
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
