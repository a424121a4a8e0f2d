"""The keyring: where the keys that encrypt originals come from, behind one small interface.

A ``KeySource`` is a provider (``local``, ``ephemeral``, ``kms``): it makes data keys,
unwraps them again, and holds the separate key of the blind index. ``Keyring`` puts a
bounded cache in front of it, so that writing costs one provider call per
``max_uses`` records (or per ``max_age`` seconds) and reading one per data key, never one
per record:

    write:  data_key(n) -> DataKey(version, wrapped, cipher)     cached, n uses counted
    read:   cipher(version, wrapped) -> Cipher                   cached by (version, wrapped)

A data key is what AES-256-GCM encrypts with; ``wrapped`` is how it rests beside each
ciphertext (KMS's ciphertext blob, or the salt a local key derives it with), and
``version`` names the provider's key that wraps it. Keys and plaintext never appear in a
repr, a message or an error.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.errors import StorageMisconfigured, StorageUnavailable

KEY_BYTES = 32  # AES-256, and the blind index's HMAC-SHA256 key


class KeyringUnavailable(StorageUnavailable):
    """The key provider cannot be reached or keeps refusing for now (KMS throttling, a
    network failure): worth another try."""


class KeyringMisconfigured(StorageMisconfigured):
    """The key provider answers, but cannot be used as configured: a missing or malformed
    key file, an unknown KMS key, no permission."""


class UnknownDataKey(Exception):
    """A stored data key that this keyring cannot unwrap: its version is not in the key
    file, or KMS refuses the blob as not its own. The record it protects is unreadable
    here, while others may be fine."""


class IndexKey(NamedTuple):
    """The blind index's HMAC key and how many bits of each HMAC the index keeps."""

    key: bytes
    bits: int

    def __repr__(self) -> str:
        return f"IndexKey(bits={self.bits})"


class Cipher:
    """A data key ready to use: AES-256-GCM's ``encrypt`` and ``decrypt`` from
    ``cryptography``, and the key itself, for the C sealer (``storage.crypto._batch``)."""

    __slots__ = ("decrypt", "encrypt", "key")

    def __init__(self, key: bytes) -> None:
        aead = AESGCM(key)
        # The bound methods themselves: a call costs what AESGCM's own does.
        self.encrypt: Callable[[bytes, bytes, bytes | None], bytes] = aead.encrypt
        self.decrypt: Callable[[bytes, bytes, bytes | None], bytes] = aead.decrypt
        self.key = key

    def __repr__(self) -> str:
        return "Cipher(<AES-256-GCM data key>)"


class DataKey(NamedTuple):
    version: str
    wrapped: bytes
    cipher: Cipher

    def __repr__(self) -> str:
        return f"DataKey(version={self.version!r})"


class KeySource(Protocol):
    """A key provider. ``describe`` names it for logs without a secret."""

    @property
    def current_version(self) -> str:
        """The version new data keys are made under."""
        ...

    def describe(self) -> str: ...

    async def generate(self) -> tuple[bytes, bytes]:
        """A new data key under ``current_version``: (wrapped, 32 plaintext bytes)."""
        ...

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        """The plaintext data key; ``UnknownDataKey`` if this source cannot unwrap it."""
        ...

    async def index_key(self) -> IndexKey: ...


class Keyring:
    """A ``KeySource`` behind a bounded cache of unwrapped data keys.

    Writing: one data key serves ``max_uses`` records or ``max_age`` seconds, whichever
    ends first; a batch takes its uses at once, so all of its records share one key.
    Reading: up to ``max_unwrapped`` data keys stay unwrapped, each for ``max_unwrapped_age``
    seconds at most, least recently used evicted first. Concurrent callers that need the
    same new key wait for one provider call.
    """

    def __init__(
        self,
        source: KeySource,
        *,
        max_uses: int = 100_000,
        max_age: float = 300.0,
        max_unwrapped: int = 1024,
        max_unwrapped_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(max_uses, max_age, max_unwrapped, max_unwrapped_age) <= 0:
            raise ValueError("the cache's limits must be positive")
        self.source = source
        self._max_uses = max_uses
        self._max_age = max_age
        self._max_unwrapped = max_unwrapped
        self._max_unwrapped_age = max_unwrapped_age
        self._clock = clock
        self._current: DataKey | None = None
        self._uses = 0
        self._born = 0.0
        self._generating = asyncio.Lock()
        #: (version, wrapped) -> (cipher, when it was unwrapped)
        self._unwrapped: OrderedDict[tuple[str, bytes], tuple[Cipher, float]] = OrderedDict()
        self._unwrapping: dict[tuple[str, bytes], asyncio.Future[Cipher]] = {}
        self._index: IndexKey | None = None

    @property
    def current_version(self) -> str:
        return self.source.current_version

    def describe(self) -> str:
        return self.source.describe()

    async def data_key(self, uses: int) -> DataKey:
        """The data key for encrypting ``uses`` values (at least one)."""
        uses = max(uses, 1)
        key = self._fresh(uses)
        if key is not None:
            return key
        async with self._generating:
            key = self._fresh(uses)
            if key is not None:
                return key
            wrapped, plaintext = await self.source.generate()
            version = self.source.current_version
            key = DataKey(version, wrapped, Cipher(plaintext))
            self._current, self._uses, self._born = key, uses, self._clock()
            self._remember((version, wrapped), key.cipher)
            return key

    def _fresh(self, uses: int) -> DataKey | None:
        key = self._current
        if (
            key is None
            or key.version != self.source.current_version
            or self._uses + uses > self._max_uses
            or self._clock() - self._born >= self._max_age
        ):
            return None
        self._uses += uses
        return key

    def cached(self, version: str, wrapped: bytes) -> Cipher | None:
        """The cipher of a data key unwrapped lately, without waiting: reads' fast path."""
        found = self._unwrapped.get((version, wrapped))
        if found is None or self._clock() - found[1] >= self._max_unwrapped_age:
            return None
        return found[0]

    async def cipher(self, version: str, wrapped: bytes) -> Cipher:
        """The cipher of a stored data key; ``UnknownDataKey`` if it cannot be unwrapped."""
        entry = (version, wrapped)
        cipher = self.cached(version, wrapped)
        if cipher is not None:
            self._unwrapped.move_to_end(entry)
            return cipher
        pending = self._unwrapping.get(entry)
        if pending is None:
            pending = asyncio.ensure_future(self._unwrap(entry))
            self._unwrapping[entry] = pending
            pending.add_done_callback(lambda _: self._unwrapping.pop(entry, None))
        return await asyncio.shield(pending)

    async def _unwrap(self, entry: tuple[str, bytes]) -> Cipher:
        plaintext = await self.source.unwrap(*entry)
        cipher = Cipher(plaintext)
        self._remember(entry, cipher)
        return cipher

    def _remember(self, entry: tuple[str, bytes], cipher: Cipher) -> None:
        self._unwrapped[entry] = (cipher, self._clock())
        self._unwrapped.move_to_end(entry)
        while len(self._unwrapped) > self._max_unwrapped:
            self._unwrapped.popitem(last=False)

    async def index_key(self) -> IndexKey:
        if self._index is None:
            self._index = await self.source.index_key()
        return self._index
