"""What storage speaks: its own record type and per-item outcomes, nothing of protobuf or gRPC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

#: DynamoDB's partition key limit, in UTF-8 bytes; every backend enforces the same one.
MAX_KEY_BYTES = 2048


class Record(NamedTuple):
    """One pseudonym and the original value behind it, with where it came from.

    ``created_at``, ``updated_at`` and ``expires_at`` are set by the backend on write
    (``expires_at`` from its ``storage.retention`` policy and ``field_name``; ``None``:
    never); values passed in are ignored. A record past ``expires_at`` reads as not stored.
    ``restricted`` (processing restricted, GDPR Art. 18) is likewise the backend's: set on
    write from the marks resting (``storage.subjects``), or by ``set_restricted``.
    """

    modified_value: str
    original_value: str
    field_name: str = ""
    json_path: str = ""
    schema: str = ""
    hash_function: str = ""
    app_id: str = ""
    collector_tstamp: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    restricted: bool = False

    def __repr__(self) -> str:
        # The original value is personal data: keep it out of reprs, and so out of
        # tracebacks, log lines and assertion messages. A tuple's str() is its repr.
        return f"Record(modified_value={self.modified_value!r}, original_value=<redacted>)"


class Sealed(NamedTuple):
    """An original value as it rests encrypted (``storage.encrypted``): what backends keep
    instead of the value, opaque to them.

    ``key_version`` names the keyring's key (``local:<id>``, ``kms:<key ARN>``),
    ``data_key`` is the data key as the keyring wraps it (KMS's ciphertext blob, or the
    salt a local key is derived with), ``ciphertext`` is the 12-byte nonce followed by
    AES-256-GCM's output, and ``blind_index`` is the blind index of the normalised value ("" for
    none).
    """

    key_version: str
    data_key: bytes
    ciphertext: bytes
    blind_index: str = ""
    #: The backend's own name for this sealing as it rests ("" until stored): DynamoDB's
    #: key table ``keyId``, which every write renews. Conditional rewrites compare it.
    revision: str = ""
    #: The value's full marker digest (``storage.subjects``), on the way in only: a backend
    #: looks up the value's marks by it and never stores it ("" when read back).
    digest: str = ""

    def __repr__(self) -> str:
        size = len(self.ciphertext)
        return f"Sealed(key_version={self.key_version!r}, ciphertext=<{size} bytes>)"


class SealedRecord(NamedTuple):
    """A ``Record`` as it rests encrypted: the same fields in the same order, with the
    original value replaced by its ``Sealed`` form."""

    modified_value: str
    sealed: Sealed
    field_name: str = ""
    json_path: str = ""
    schema: str = ""
    hash_function: str = ""
    app_id: str = ""
    collector_tstamp: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    restricted: bool = False


class ItemFailed(NamedTuple):
    """One item of a batch that the backend could not process (e.g. still unprocessed
    when the retry deadline ran out). Transient, unless ``damaged``: the caller may retry it.

    ``damaged`` marks a stored item that cannot be used as it is, however often it is read:
    a ciphertext that fails authentication (tampered with, moved to another key), or one
    whose key is unknown or erased. ``reason`` is written by us, never copied from a
    backend, and never holds PII. ``erased``: not stored because the data subject's
    records were erased for good (``ERASED``); retrying it changes nothing.
    """

    reason: str
    damaged: bool = False
    erased: bool = False


#: The outcome of a write refused because its pseudonym or its value is marked erased.
ERASED = ItemFailed(
    "erased at the data subject's request (GDPR Art. 17): not stored again", erased=True
)


def utcnow() -> datetime:
    """The clock backends stamp ``created_at`` and ``updated_at`` with, unless given one."""
    return datetime.now(UTC)


#: The outcome of one write or delete: ``None`` when it was done.
WriteOutcome = ItemFailed | None
#: The outcome of one read: the record, ``None`` when the key is not stored, or a failure.
ReadOutcome = Record | ItemFailed | None


class ScanPage(NamedTuple):
    """One page of a scan: what rests under each key (a ``Record``, a ``SealedRecord``, or
    an ``ItemFailed`` for one that cannot be read), and the key to resume after, ``None``
    once the scan is over."""

    items: list[tuple[str, Record | SealedRecord | ItemFailed]]
    resume_after: str | None


class Changed(NamedTuple):
    """A conditional replacement not made: the item was no longer as expected (a write
    came in between), so it was left as that write made it."""


CHANGED = Changed()
#: The outcome of one conditional replacement: done (``None``), ``CHANGED``, or a failure.
ReplaceOutcome = ItemFailed | Changed | None
#: The outcome of one read of what rests in a backend: a plaintext record (written without
#: encryption, or before it), a sealed one, ``None`` when the key is not stored, or a failure.
StoredOutcome = Record | SealedRecord | ItemFailed | None
