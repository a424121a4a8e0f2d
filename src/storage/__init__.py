"""Storage for Piinguin records: one async interface, several backends."""

from storage.base import Storage
from storage.errors import StorageError, StorageMisconfigured, StorageUnavailable
from storage.memory import MemoryStorage
from storage.records import MAX_KEY_BYTES, ItemFailed, ReadOutcome, Record, WriteOutcome

__all__ = [
    "MAX_KEY_BYTES",
    "ItemFailed",
    "MemoryStorage",
    "ReadOutcome",
    "Record",
    "Storage",
    "StorageError",
    "StorageMisconfigured",
    "StorageUnavailable",
    "WriteOutcome",
]
