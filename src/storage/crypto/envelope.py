"""Sealing originals and opening them again: AES-256-GCM under the keyring's data keys.

A sealed value is ``nonce (12 random bytes) || AES-256-GCM(value UTF-8) || tag (16)``. Its
associated data binds it to its vault (the records table's name) and its pseudonym::

    b"piinguin original v1\\0" + vault + b"\\0" + modified_value

so a ciphertext copied to another key, or into another vault, fails authentication, as
does one with a single bit changed. Such an item is refused (``ItemFailed``, ``damaged``)
and nothing of it is returned. Provenance and timestamps stay in clear: they describe where
a pseudonym came from, not the person.

Two implementations, the same bytes: ``storage.crypto._batch`` (C, one call a batch, built
where a compiler and OpenSSL's headers are: ``hatch_build.py``) and the pure-Python loops
below (``cryptography`` and hashlib, a call or three a record), which serve wherever the C
sealer is not built. The tests hold each to the other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag

from storage.crypto.blind import BlindIndex, normalise
from storage.crypto.keyring import Cipher, Keyring, UnknownDataKey
from storage.records import ItemFailed, ReadOutcome, Record, Sealed, SealedRecord, StoredOutcome

try:
    from storage.crypto import _batch
except ImportError:  # not built here (no compiler): the pure-Python path
    _batch = None  # type: ignore[assignment]

#: Whether this installation has the C sealer, which ``Envelope`` then uses.
NATIVE = _batch is not None
NONCE_BYTES = 12
_new = tuple.__new__  # a NamedTuple built positionally, without its __new__'s frame
AAD_PREFIX = b"piinguin original v1\0"
TAMPERED = ItemFailed(
    "the stored value failed authentication: it was altered, or moved from another key",
    damaged=True,
)
NOT_TEXT = ItemFailed("the stored value decrypted to bytes that are not UTF-8", damaged=True)
#: What sealing raises for a str UTF-8 cannot encode; the C sealer says the same.
NOT_UNICODE = "a value to seal is not valid Unicode text"


class Envelope:
    """Seals and opens originals for one vault with one keyring; ``index`` computes the
    blind index of each value sealed (``None``: no index)."""

    def __init__(
        self, keyring: Keyring, vault: str, index: BlindIndex | None, *, native: bool | None = None
    ) -> None:
        """``native``: seal and open with the C sealer (``None``: where it is built)."""
        if native is None:
            native = NATIVE
        elif native and _batch is None:
            raise ValueError("the C sealer (storage.crypto._batch) is not built here")
        self.keyring = keyring
        self.vault = vault
        self.index = index
        self.native = native
        self._aad = AAD_PREFIX + vault.encode() + b"\0"

    def associated_data(self, modified_value: str) -> bytes:
        return self._aad + modified_value.encode()

    async def seal_many(self, records: Sequence[Record]) -> list[SealedRecord]:
        """Each record with its original sealed under one data key, with its blind index
        and its marker digest (given an index); timestamps as given."""
        key = await self.keyring.data_key(len(records))
        nonces = os.urandom(NONCE_BYTES * len(records))
        version, wrapped, aad, index = key.version, key.wrapped, self._aad, self.index
        if self.native and index is not None:
            return _batch.seal_many(
                records if type(records) is list else list(records),
                key.cipher.key,
                nonces,
                aad,
                version,
                wrapped,
                index.key,
                index.bits,
                normalise,
                Sealed,
                SealedRecord,
                "",
            )
        encrypt = key.cipher.encrypt
        # One HMAC per value: the blind index is the marker digest, truncated.
        digest, truncated = (index.digest, index.truncated) if index else (None, None)
        sealed: list[SealedRecord] = []
        append = sealed.append
        at = 0
        try:
            for r in records:
                nonce = nonces[at : at + NONCE_BYTES]
                at += NONCE_BYTES
                value = r[1]
                ciphertext = nonce + encrypt(nonce, value.encode(), aad + r[0].encode())
                if digest is None or truncated is None:
                    resting: Sealed = _new(Sealed, (version, wrapped, ciphertext, "", "", ""))
                else:
                    full = digest(value)
                    resting = _new(
                        Sealed, (version, wrapped, ciphertext, truncated(full), "", full)
                    )
                append(_new(SealedRecord, (r[0], resting, *r[2:])))
        except UnicodeEncodeError:
            # Its message would carry the whole value (a lone surrogate in it).
            raise ValueError(NOT_UNICODE) from None
        return sealed

    async def open(self, record: SealedRecord) -> Record | ItemFailed:
        sealed = record[1]
        cipher = self.keyring.cached(sealed[0], sealed[1])
        if cipher is None:
            try:
                cipher = await self.keyring.cipher(sealed[0], sealed[1])
            except UnknownDataKey as exc:
                return ItemFailed(f"the stored value's key cannot be used: {exc}", damaged=True)
        return self._opened(record, cipher)

    def _opened(self, record: SealedRecord, cipher: Cipher) -> Record | ItemFailed:
        ciphertext = record[1][2]
        try:
            plaintext = cipher.decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], self._aad + record[0].encode()
            )
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            return TAMPERED
        try:
            value = plaintext.decode()
        except UnicodeDecodeError:
            return NOT_TEXT
        opened: Record = _new(Record, (record[0], value, *record[2:]))
        return opened

    async def open_many(self, outcomes: Sequence[StoredOutcome]) -> list[ReadOutcome]:
        """Every sealed record opened; plaintext records (written before encryption, or
        without it), absences and failures as they are. A data key met for the first time
        is unwrapped (the keyring caches it); records under the data key of the record
        before them, as most of a batch is, skip even the cache."""
        if self.native:
            return await self._open_runs(outcomes)
        cached, aad = self.keyring.cached, self._aad
        opened: list[ReadOutcome] = []
        append = opened.append
        last: tuple[str, bytes] | None = None
        cipher: Cipher | None = None
        for outcome in outcomes:
            if not isinstance(outcome, SealedRecord):
                append(outcome)  # a Record, an ItemFailed or None
                continue
            sealed = outcome[1]
            if last is None or sealed[1] != last[1] or sealed[0] != last[0]:
                last, cipher = (sealed[0], sealed[1]), cached(sealed[0], sealed[1])
            if cipher is None:
                append(await self.open(outcome))
                last = None
                continue
            ciphertext = sealed[2]
            try:
                value = cipher.decrypt(
                    ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad + outcome[0].encode()
                ).decode()
            except UnicodeDecodeError:  # first: it is a ValueError too
                append(NOT_TEXT)
                continue
            except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
                append(TAMPERED)
                continue
            record: Record = _new(Record, (outcome[0], value, *outcome[2:]))
            append(record)
        return opened

    async def _open_runs(self, outcomes: Sequence[StoredOutcome]) -> list[ReadOutcome]:
        """``open_many`` with the C sealer: each run of records under one data key in one
        call; whatever else (plaintext records, absences, failures, a key not yet
        unwrapped) one at a time here."""
        items = outcomes if type(outcomes) is list else list(outcomes)
        cached, aad = self.keyring.cached, self._aad
        opened: list[ReadOutcome] = []
        at, end = 0, len(items)
        while at < end:
            outcome = items[at]
            if not isinstance(outcome, SealedRecord):
                opened.append(outcome)
                at += 1
                continue
            sealed = outcome[1]
            cipher = cached(sealed[0], sealed[1])
            if cipher is None:
                # Unwrapped now (or refused): the rest of its run then goes the fast way.
                opened.append(await self.open(outcome))
                at += 1
                continue
            after = _batch.open_run(
                items, at, cipher.key, sealed[0], sealed[1], aad, SealedRecord, Record,
                TAMPERED, NOT_TEXT, opened,
            )  # fmt: skip
            if after == at:  # a record of a shape the C sealer does not take
                opened.append(self._opened(outcome, cipher))
                after = at + 1
            at = after
        return opened
