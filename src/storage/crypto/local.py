"""Key providers without a service: a key file (``local:PATH``) and an in-process key
(``ephemeral``, the memory backend's default).

A key file is JSON, made by ``piinguin-admin keyring create`` and nothing else, mode 0600::

    {"format": "piinguin-keyring/1",
     "current": "3a9f12c0",                         # the version new data keys use
     "keys": {"3a9f12c0": "<32 bytes, base64>"},    # every version still readable
     "index": {"key": "<32 bytes, base64>", "bits": 22}}

Each version's key never encrypts a value itself: a data key is derived from it with
HKDF-SHA256 and a random 16-byte salt, and the salt rests beside each ciphertext as its
wrapped data key. So one version can serve any number of writes without a nonce ever
being at risk (each data key encrypts at most ``Keyring``'s ``max_uses`` values), and
rotating needs no more than a new version in the file.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.crypto.keyring import KEY_BYTES, IndexKey, KeyringMisconfigured, UnknownDataKey

FORMAT = "piinguin-keyring/1"
SALT_BYTES = 16
_INFO = b"piinguin data key v1"
#: Blind index lengths allowed: fewer bits than 8 make every lookup a scan, more than 64
#: make the index a fingerprint of each value.
MIN_INDEX_BITS, MAX_INDEX_BITS = 8, 64
#: Distinct values a vault is planned for when the operator does not say.
DEFAULT_EXPECTED_VALUES = 10_000_000


def index_bits_for(expected_values: int) -> int:
    """The blind index length for a vault of about ``expected_values`` distinct originals:
    one bit fewer than it takes to tell them all apart, so that on average at least two
    distinct values share each index value (README, "Blind index")."""
    if expected_values < 2:
        raise ValueError("expected_values must be at least 2")
    bits = math.floor(math.log2(expected_values)) - 1
    return min(max(bits, MIN_INDEX_BITS), MAX_INDEX_BITS)


def derive(version_key: bytes, salt: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, salt, _INFO).derive(version_key)


#: Seconds between two re-reads of a key file prompted by versions it did not hold.
RELOAD_INTERVAL = 5.0


class LocalKeys:
    """The ``KeySource`` of a loaded key file (or of ``ephemeral``, with ``scheme``
    ``ephemeral`` and keys made in memory).

    Rotation without downtime: a record under a version this process does not hold makes
    it re-read its key file (at most once every ``RELOAD_INTERVAL`` seconds), so servers
    that share the file read what a server restarted after ``keyring rotate`` writes, and
    from then on write under the new current version themselves.
    """

    def __init__(
        self,
        keys: dict[str, bytes],
        current: str,
        index: IndexKey,
        *,
        scheme: str = "local",
        where: str = "",
        reload: Callable[[], Awaitable[LocalKeys]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if current not in keys:
            raise KeyringMisconfigured(f"the key file's current version {current!r} is not in it")
        self._keys = dict(keys)
        self._current = current
        self._index = index
        self._scheme = scheme
        self._where = where
        self._reload = reload
        self._clock = clock
        self._reloaded = clock()

    @classmethod
    def ephemeral(cls, *, index_bits: int = 16) -> LocalKeys:
        """Keys that live and die with this process: records written under them are
        unreadable after a restart, which the memory backend's records do not outlive."""
        version = secrets.token_hex(4)
        index = IndexKey(secrets.token_bytes(KEY_BYTES), index_bits)
        return cls({version: secrets.token_bytes(KEY_BYTES)}, version, index, scheme="ephemeral")

    @property
    def current_version(self) -> str:
        return f"{self._scheme}:{self._current}"

    @property
    def versions(self) -> list[str]:
        return [f"{self._scheme}:{v}" for v in self._keys]

    @property
    def keys(self) -> dict[str, bytes]:
        """Every version's key by its name in the file: for rewriting the file."""
        return dict(self._keys)

    @property
    def index(self) -> IndexKey:
        return self._index

    def describe(self) -> str:
        where = f" {self._where}" if self._where else ""
        return f"{self._scheme}{where}, {len(self._keys)} version(s), current {self._current}"

    async def generate(self) -> tuple[bytes, bytes]:
        salt = secrets.token_bytes(SALT_BYTES)
        return salt, derive(self._keys[self._current], salt)

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        scheme, _, name = version.partition(":")
        if scheme == self._scheme and name not in self._keys:
            await self._reread()
        key = self._keys.get(name) if scheme == self._scheme else None
        if key is None or len(wrapped) != SALT_BYTES:
            raise UnknownDataKey(f"key version {version!r} is not in this keyring")
        return derive(key, wrapped)

    async def _reread(self) -> None:
        """Take the key file's versions and current one as they are now, unless it was
        read moments ago, cannot be read, or holds another index key (which would make
        every blind index wrong)."""
        if self._reload is None or self._clock() - self._reloaded < RELOAD_INTERVAL:
            return
        self._reloaded = self._clock()
        try:
            fresh = await self._reload()
        except KeyringMisconfigured:
            return
        if fresh.index == self._index and set(self._keys) <= set(fresh.keys):
            self._keys, self._current = fresh.keys, fresh._current

    async def index_key(self) -> IndexKey:
        return self._index


# -- the key file: made, rotated and read ----------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    try:
        data = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringMisconfigured(f"{what} is not base64") from None
    if len(data) != KEY_BYTES:
        raise KeyringMisconfigured(f"{what} is not {KEY_BYTES} bytes")
    return data


def parse_key_file(
    text: str, where: str, *, reload: Callable[[], Awaitable[LocalKeys]] | None = None
) -> LocalKeys:
    """The keys in a key file's ``text``; ``KeyringMisconfigured`` naming what is wrong
    (never a key)."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise KeyringMisconfigured(f"key file {where} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KeyringMisconfigured(f"key file {where} is not a {FORMAT} key file")
    keys = data.get("keys")
    index = data.get("index")
    if not isinstance(keys, dict) or not keys or not isinstance(index, dict):
        raise KeyringMisconfigured(f"key file {where} needs 'keys' and 'index'")
    bits = index.get("bits")
    if not isinstance(bits, int) or not MIN_INDEX_BITS <= bits <= MAX_INDEX_BITS:
        raise KeyringMisconfigured(
            f"key file {where}: index bits must be {MIN_INDEX_BITS} to {MAX_INDEX_BITS}"
        )
    decoded = {str(v): _unb64(k, f"key file {where}: key {v!r}") for v, k in keys.items()}
    return LocalKeys(
        decoded,
        str(data.get("current")),
        IndexKey(_unb64(index.get("key"), f"key file {where}: the index key"), bits),
        where=where,
        reload=reload,
    )


def render_key_file(keys: dict[str, bytes], current: str, index: IndexKey) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "current": current,
            "keys": {version: _b64(key) for version, key in keys.items()},
            "index": {"key": _b64(index.key), "bits": index.bits},
        },
        indent=2,
    )


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path`` readable by its owner alone; atomically when replacing."""
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(text + "\n")
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_key_file(path: Path, *, index_bits: int) -> str:
    """Make a new key file at ``path`` (which must not exist): one version, current, and
    an index key. Answers the version's name."""
    if not MIN_INDEX_BITS <= index_bits <= MAX_INDEX_BITS:
        raise ValueError(f"index bits must be {MIN_INDEX_BITS} to {MAX_INDEX_BITS}")
    version = secrets.token_hex(4)
    index = IndexKey(secrets.token_bytes(KEY_BYTES), index_bits)
    text = render_key_file({version: secrets.token_bytes(KEY_BYTES)}, version, index)
    _write_private(path, text, replace=False)
    return f"local:{version}"


def rotate_key_file(path: Path) -> str:
    """Add a new version to the key file at ``path`` and make it current; every earlier
    version stays, so what it encrypted stays readable. Answers the new version's name."""
    loaded = parse_key_file(path.read_text(), str(path))
    keys = dict(loaded.keys)
    version = secrets.token_hex(4)
    while version in keys:  # pragma: no cover - four random bytes, in a handful of versions
        version = secrets.token_hex(4)
    keys[version] = secrets.token_bytes(KEY_BYTES)
    _write_private(path, render_key_file(keys, version, loaded.index), replace=True)
    return f"local:{version}"


async def load_key_file(path: Path) -> LocalKeys:
    """Read a key file (off the event loop); ``KeyringMisconfigured`` if it cannot be used."""
    try:
        text = await asyncio.to_thread(path.read_text)
    except OSError as exc:
        raise KeyringMisconfigured(
            f"cannot read key file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    return parse_key_file(text, str(path), reload=functools.partial(load_key_file, path))
