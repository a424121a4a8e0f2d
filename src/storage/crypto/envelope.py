"""Sealing originals and opening them again: AES-256-GCM under the keyring's data keys.

A sealed value is ``nonce (12 random bytes) || AES-256-GCM(value UTF-8) || tag (16)``. Its
associated data binds it to its vault (the records table's name) and its pseudonym::

    b"piinguin original v1\\0" + vault + b"\\0" + modified_value

so a ciphertext copied to another key, or into another vault, fails authentication, as
does one with a single bit changed. Such an item is refused (``ItemFailed``, ``damaged``)
and nothing of it is returned. Provenance and timestamps stay in clear: they describe where
a pseudonym came from, not the person.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag

from storage.crypto.blind import BlindIndex
from storage.crypto.keyring import Keyring, UnknownDataKey
from storage.records import ItemFailed, ReadOutcome, Record, Sealed, SealedRecord, StoredOutcome

NONCE_BYTES = 12
AAD_PREFIX = b"piinguin original v1\0"
TAMPERED = ItemFailed(
    "the stored value failed authentication: it was altered, or moved from another key",
    damaged=True,
)
NOT_TEXT = ItemFailed("the stored value decrypted to bytes that are not UTF-8", damaged=True)


class Envelope:
    """Seals and opens originals for one vault with one keyring; ``index`` computes the
    blind index of each value sealed (``None``: no index)."""

    def __init__(self, keyring: Keyring, vault: str, index: BlindIndex | None) -> None:
        self.keyring = keyring
        self.vault = vault
        self.index = index
        self._aad = AAD_PREFIX + vault.encode() + b"\0"

    def associated_data(self, modified_value: str) -> bytes:
        return self._aad + modified_value.encode()

    async def seal_many(self, records: Sequence[Record]) -> list[SealedRecord]:
        """Each record with its original sealed under one data key; timestamps as given."""
        key = await self.keyring.data_key(len(records))
        encrypt = key.cipher.encrypt
        version, wrapped, aad, index = key.version, key.wrapped, self._aad, self.index
        nonces = os.urandom(NONCE_BYTES * len(records))
        sealed: list[SealedRecord] = []
        for i, r in enumerate(records):
            nonce = nonces[NONCE_BYTES * i : NONCE_BYTES * (i + 1)]
            value = r[1]
            ciphertext = nonce + encrypt(nonce, value.encode(), aad + r[0].encode())
            sealed.append(
                SealedRecord(
                    r[0],
                    Sealed(version, wrapped, ciphertext, index(value) if index else ""),
                    *r[2:],
                )
            )
        return sealed

    async def open(self, record: SealedRecord) -> Record | ItemFailed:
        sealed = record[1]
        cipher = self.keyring.cached(sealed[0], sealed[1])
        if cipher is None:
            try:
                cipher = await self.keyring.cipher(sealed[0], sealed[1])
            except UnknownDataKey as exc:
                return ItemFailed(f"the stored value's key cannot be used: {exc}", damaged=True)
        ciphertext = sealed[2]
        try:
            plaintext = cipher.decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], self._aad + record[0].encode()
            )
        except InvalidTag:
            return TAMPERED
        try:
            value = plaintext.decode()
        except UnicodeDecodeError:
            return NOT_TEXT
        return Record(record[0], value, *record[2:])

    async def open_many(self, outcomes: Sequence[StoredOutcome]) -> list[ReadOutcome]:
        """Every sealed record opened; plaintext records (written before encryption, or
        without it), absences and failures as they are."""
        opened: list[ReadOutcome] = []
        for outcome in outcomes:
            if isinstance(outcome, SealedRecord):
                opened.append(await self.open(outcome))
            else:
                opened.append(outcome)
        return opened
