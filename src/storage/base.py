"""The interfaces every backend satisfies, structurally (backends don't inherit): ``Storage``
for records, ``AuditStore`` for audit events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.records import (
    ReadOutcome,
    Record,
    ReplaceOutcome,
    ScanPage,
    SealedRecord,
    StoredOutcome,
    WriteOutcome,
)
from storage.subjects import Lookup, MarkKind, Marks


class Storage(Protocol):
    """A batch-first, async key-value store of records keyed by ``modified_value``.

    Every method answers one outcome per input item, in input order. A key may appear
    more than once in one call: writes collapse to the last one (last write wins) and
    every position gets the outcome of that key. Keys are assumed valid (non-empty, at
    most ``MAX_KEY_BYTES``); validation belongs to the caller.

    Whole-call problems raise ``StorageError`` subclasses; per-item ones are ``ItemFailed``.
    """

    async def check(self) -> None:
        """Raise ``StorageError`` unless the backend is ready to serve."""
        ...

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        """Store records, replacing any stored under the same key.

        ``updated_at`` becomes now; ``created_at`` keeps the time the key was first stored.
        """
        ...

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]: ...

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        """Delete keys; a key that is not stored is done all the same (idempotent)."""
        ...


class SubjectStorage(Storage, Protocol):
    """A ``Storage`` that serves data-subject rights (``storage.subjects``): every store
    the server can be given.

    Every write (``put_many``, and ``put_sealed`` where there is one) first looks up the
    marks of each record's pseudonym and, given a keyring, of its value's digest: a record
    marked erased is not stored (``ERASED``), one marked restricted is stored with
    ``restricted`` set.
    """

    async def value_digest(self, value: str) -> str | None:
        """The marker digest of an original: hex HMAC-SHA256 of its normal form under the
        keyring's index key (the blind index is its prefix); ``None`` without a keyring."""
        ...

    async def find(self, value: str) -> Lookup:
        """The keys whose original is ``value``, both normalised (``indexed=False``, and
        nothing found, where no blind index is kept)."""
        ...

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        """Mark pseudonyms and value digests, replacing a mark of the same kind; durable
        when it returns (``StorageUnavailable`` otherwise)."""
        ...

    async def unmark(
        self, kind: MarkKind, pseudonyms: Sequence[str], digests: Sequence[str]
    ) -> None:
        """Remove the marks of ``kind`` (only) from pseudonyms and value digests."""
        ...

    async def marks(self, pseudonyms: Sequence[str], digests: Sequence[str]) -> Marks:
        """The mark resting on each key that has one, ``erased`` over ``restricted``."""
        ...

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        """Set or clear the ``restricted`` flag of the records stored under ``keys``; a key
        not stored is done, and nothing is created."""
        ...


class SealedStorage(SubjectStorage, Protocol):
    """A ``Storage`` that also keeps originals sealed (``storage.encrypted`` wraps it), finds
    keys by blind index, and keeps a keyring's state. Plaintext records stay readable as
    they are: items written before encryption, or without it.

    ``put_many`` and ``get_many`` are the plaintext ones; ``get_many`` answers a sealed item
    with a ``damaged`` failure, since it cannot open it.
    """

    async def put_sealed(self, records: Sequence[SealedRecord]) -> list[WriteOutcome]:
        """As ``put_many``, for sealed records."""
        ...

    async def get_stored(self, keys: Sequence[str]) -> list[StoredOutcome]:
        """What rests under each key: a sealed or a plaintext record, or ``None``."""
        ...

    async def find_index(self, index: str) -> list[str]:
        """The keys of every sealed record whose blind index is ``index``, in no order."""
        ...

    async def scan(self, resume_after: str | None, limit: int) -> ScanPage:
        """About ``limit`` items, strongly consistent, in the backend's own order, from
        just after the key ``resume_after`` (from the start for ``None``). For operator
        commands that walk the whole store (``storage.migrate``)."""
        ...

    async def replace_sealed(
        self, replacements: Sequence[tuple[Record | SealedRecord, SealedRecord]]
    ) -> list[ReplaceOutcome]:
        """Replace each item that still rests as the first of its pair (as ``scan`` or
        ``get_stored`` answered it) with the second, timestamps as given; ``CHANGED``
        where a write came in between, which stands."""
        ...

    async def load_entry(self, name: str) -> bytes | None:
        """A keyring's state entry (``storage.crypto.kms.KeyringState``)."""
        ...

    async def store_entry(self, name: str, value: bytes) -> bytes: ...

    async def replace_entry(self, name: str, value: bytes) -> None: ...


class AuditStore(Protocol):
    """Keeps audit events. ``append`` must not return before the event is durable:
    readers of personal data wait on it (fail closed).

    A query by key answers events narrowed to that key's outcome; events come oldest
    first. Whole-call problems raise ``StorageError`` subclasses; a page token that
    this store did not issue raises ``ValueError``.
    """

    async def check(self) -> None: ...

    async def append(self, event: AuditEvent) -> None: ...

    async def query(self, query: AuditQuery) -> AuditPage: ...
