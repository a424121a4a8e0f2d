"""Storage for Piinguin records and audit events: one async interface each, several backends."""

from storage.base import AuditStore, Storage, SubjectStorage
from storage.errors import StorageError, StorageMisconfigured, StorageUnavailable
from storage.memory import MemoryAuditStore, MemoryStorage
from storage.records import (
    ERASED,
    MAX_KEY_BYTES,
    ItemFailed,
    ReadOutcome,
    Record,
    WriteOutcome,
)
from storage.subjects import Lookup, Mark, MarkKind, Marks

__all__ = [
    "ERASED",
    "MAX_KEY_BYTES",
    "AuditStore",
    "ItemFailed",
    "Lookup",
    "Mark",
    "MarkKind",
    "Marks",
    "MemoryAuditStore",
    "MemoryStorage",
    "ReadOutcome",
    "Record",
    "Storage",
    "StorageError",
    "StorageMisconfigured",
    "StorageUnavailable",
    "SubjectStorage",
    "WriteOutcome",
]
