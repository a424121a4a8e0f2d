"""Erasure receipts: what was erased, when, by whom and why, signed by the server.

A receipt is canonical JSON (keys sorted, no spaces, UTF-8) signed with Ed25519. Anyone
holding the server's public key checks it offline (``piinguin subject verify-receipt``):
the data controller can show a supervisory authority, or the person, that an erasure
happened as stated, and nobody can edit a receipt without breaking its signature.

The server's key comes from ``--receipt-key PATH`` (a PKCS #8 PEM file made by
``piinguin-admin receipt-key create``); without one it signs with a key made at start,
which suits development only, since its receipts cannot be checked after a restart.
A receipt names pseudonyms and counts values; it never holds an original value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


class ReceiptError(ValueError):
    """A receipt, its signature or a key that cannot be used; the message says which."""


class SignedReceipt(NamedTuple):
    receipt: str  # canonical JSON
    signature: str  # base64
    key_id: str


def canonical(body: Mapping[str, Any]) -> str:
    """The one text of ``body`` that is signed: equal bodies give equal bytes."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


class ReceiptSigner:
    """Signs receipts with one Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey, *, ephemeral: bool = False) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)
        #: Made at start rather than loaded: its receipts outlive it unverifiable.
        self.ephemeral = ephemeral

    @classmethod
    def generate(cls) -> ReceiptSigner:
        return cls(Ed25519PrivateKey.generate(), ephemeral=True)

    @classmethod
    def load(cls, path: Path) -> ReceiptSigner:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReceiptError(f"{path}: cannot be read ({exc.strerror})") from exc
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            # The loader's own message may quote the file; say only what is wrong.
            raise ReceiptError(f"{path}: not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ReceiptError(f"{path}: not an Ed25519 key")
        return cls(key)

    def sign(self, body: Mapping[str, Any]) -> SignedReceipt:
        text = canonical({**body, "key_id": self.key_id})
        signature = base64.b64encode(self._key.sign(text.encode())).decode()
        return SignedReceipt(text, signature, self.key_id)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key)


def write_key_file(path: Path) -> ReceiptSigner:
    """Make a new signing key in ``path`` (created, never overwritten; mode 0600)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ReceiptError(f"{path}: exists already; a receipt key is never overwritten") from exc
    except OSError as exc:
        raise ReceiptError(f"{path}: cannot be created ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return ReceiptSigner(key)


def load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ReceiptError("the public key is not a PEM SubjectPublicKeyInfo") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ReceiptError("the public key is not an Ed25519 key")
    return key


def verify(receipt: str, signature: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The receipt's body if ``signature`` is ``public_key``'s over it; else ReceiptError."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReceiptError("the signature is not base64") from exc
    try:
        public_key.verify(raw, receipt.encode())
    except InvalidSignature as exc:
        raise ReceiptError(
            "the signature does not match: the receipt was altered, or another key signed it"
        ) from exc
    try:
        body = json.loads(receipt)
    except json.JSONDecodeError as exc:
        raise ReceiptError("the receipt is not JSON") from exc
    if not isinstance(body, dict):
        raise ReceiptError("the receipt is not a JSON object")
    if body.get("key_id") != key_id(public_key):
        raise ReceiptError("the receipt names another key than the one that verified it")
    return body
