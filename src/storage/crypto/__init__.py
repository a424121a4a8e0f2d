"""Encryption at rest: keyrings (local key file, in-process, AWS KMS), AES-256-GCM sealing
of originals, and the blind index. ``storage.encrypted`` puts them in front of a backend.
``NATIVE``: whether the C sealer (``storage.crypto._batch``) is built here."""

from storage.crypto.blind import BlindIndex, normalise
from storage.crypto.envelope import NATIVE, Envelope
from storage.crypto.keyring import (
    Cipher,
    DataKey,
    IndexKey,
    Keyring,
    KeyringMisconfigured,
    KeyringUnavailable,
    KeySource,
    UnknownDataKey,
)
from storage.crypto.kms import KeyringState, KmsKeys
from storage.crypto.local import LocalKeys, create_key_file, load_key_file, rotate_key_file
from storage.crypto.open import KeyringSpec, open_keyring

__all__ = [
    "NATIVE",
    "BlindIndex",
    "Cipher",
    "DataKey",
    "Envelope",
    "IndexKey",
    "KeySource",
    "Keyring",
    "KeyringMisconfigured",
    "KeyringSpec",
    "KeyringState",
    "KeyringUnavailable",
    "KmsKeys",
    "LocalKeys",
    "UnknownDataKey",
    "create_key_file",
    "load_key_file",
    "normalise",
    "open_keyring",
    "rotate_key_file",
]
