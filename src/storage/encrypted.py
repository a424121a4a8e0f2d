"""Encryption at rest as a ``Storage`` in front of any ``SealedStorage`` backend.

``EncryptedStorage(backend, keyring, vault=...)`` is what the services see: records go in
and come out with their originals in clear, and rest in the backend sealed
(``storage.crypto.envelope``) with a blind index (``storage.crypto.blind``). Being a
wrapper, it covers the memory and DynamoDB backends alike and leaves the services as they
were; each backend only learns to keep sealed items.

Items written before encryption (or by the original piinguin) read as they are; an
operator command seals them in place (``storage.migrate``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from storage.base import SealedStorage
from storage.crypto.blind import BlindIndex, normalise
from storage.crypto.envelope import Envelope
from storage.crypto.keyring import Keyring
from storage.errors import StorageUnavailable
from storage.records import ItemFailed, ReadOutcome, Record, WriteOutcome
from storage.subjects import Lookup, MarkKind, Marks

__all__ = ["EncryptedStorage", "Lookup"]


class EncryptedStorage:
    """The ``Storage`` interface over ``backend``, originals sealed with ``keyring``'s keys
    and bound to ``vault`` (the records table's name, or the memory backend's)."""

    def __init__(
        self, backend: SealedStorage, keyring: Keyring, *, vault: str, native: bool | None = None
    ) -> None:
        """``native``: as ``Envelope``'s (the C sealer where it is built, by default)."""
        self.backend = backend
        self.keyring = keyring
        self.vault = vault
        self.native = native
        self._envelope: Envelope | None = None
        self._opening = asyncio.Lock()

    async def envelope(self) -> Envelope:
        """The sealer, made once the blind index key is at hand (KMS may be asked for it)."""
        if self._envelope is None:
            async with self._opening:
                if self._envelope is None:
                    index = BlindIndex(await self.keyring.index_key())
                    self._envelope = Envelope(self.keyring, self.vault, index, native=self.native)
        return self._envelope

    async def check(self) -> None:
        await self.backend.check()
        await self.envelope()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        if not records:
            return []
        envelope = self._envelope or await self.envelope()
        return await self.backend.put_sealed(await envelope.seal_many(records))

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        if not keys:
            return []
        envelope = self._envelope or await self.envelope()
        return await envelope.open_many(await self.backend.get_stored(keys))

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        return await self.backend.delete_many(keys)

    async def value_digest(self, value: str) -> str | None:
        envelope = self._envelope or await self.envelope()
        assert envelope.index is not None  # EncryptedStorage always indexes
        return envelope.index.digest(value)

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        await self.backend.mark(kind, pseudonyms, digests, reference=reference, at=at)

    async def unmark(
        self, kind: MarkKind, pseudonyms: Sequence[str], digests: Sequence[str]
    ) -> None:
        await self.backend.unmark(kind, pseudonyms, digests)

    async def marks(self, pseudonyms: Sequence[str], digests: Sequence[str]) -> Marks:
        return await self.backend.marks(pseudonyms, digests)

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        return await self.backend.set_restricted(keys, restricted)

    async def find(self, value: str) -> Lookup:
        """The keys of every sealed record whose original equals ``value`` once both are
        normalised. The index proposes candidates (truncation makes some of them other
        values); each is decrypted and compared before it is answered. A candidate that
        cannot be read for now fails the lookup (``StorageUnavailable``): an answer must be
        complete."""
        envelope = self._envelope or await self.envelope()
        assert envelope.index is not None  # EncryptedStorage always indexes
        candidates = await self.backend.find_index(envelope.index(value))
        wanted = normalise(value)
        keys: list[str] = []
        unreadable: list[str] = []
        outcomes = await self.get_many(candidates) if candidates else []
        for key, outcome in zip(candidates, outcomes, strict=True):
            if isinstance(outcome, Record):
                if normalise(outcome.original_value) == wanted:
                    keys.append(key)
            elif isinstance(outcome, ItemFailed):
                if not outcome.damaged:
                    raise StorageUnavailable(
                        f"a candidate could not be read to confirm it: {outcome.reason}"
                    )
                unreadable.append(key)
        return Lookup(sorted(keys), sorted(unreadable))
