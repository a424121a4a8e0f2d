"""Storage for Piinguin records and audit events: one async interface each, several backends."""

from storage.base import AuditStore, Storage
from storage.errors import StorageError, StorageMisconfigured, StorageUnavailable
from storage.memory import MemoryAuditStore, MemoryStorage
from storage.records import MAX_KEY_BYTES, ItemFailed, ReadOutcome, Record, WriteOutcome

__all__ = [
    "MAX_KEY_BYTES",
    "AuditStore",
    "ItemFailed",
    "MemoryAuditStore",
    "MemoryStorage",
    "ReadOutcome",
    "Record",
    "Storage",
    "StorageError",
    "StorageMisconfigured",
    "StorageUnavailable",
    "WriteOutcome",
]
