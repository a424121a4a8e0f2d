"""Choosing and opening a keyring from its spec, as ``--keyring`` gives it.

local:PATH          a key file made by ``piinguin-admin keyring create PATH``
kms:KEY_ID_OR_ARN   an AWS KMS key (id, ARN, or alias/NAME)
ephemeral           keys made in memory, gone with the process: the memory backend's
                    default, never for storage that outlives the process
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

from storage.crypto.keyring import Keyring, KeyringMisconfigured
from storage.crypto.kms import KeyringState, KmsKeys, open_kms_client
from storage.crypto.local import LocalKeys, load_key_file

SCHEMES = ("local", "kms", "ephemeral")


class KeyringSpec(NamedTuple):
    scheme: str  # local, kms, ephemeral
    target: str  # the path or the key; "" for ephemeral

    @classmethod
    def parse(cls, text: str) -> KeyringSpec:
        """``ValueError`` with a sentence that says what a spec looks like."""
        scheme, colon, target = text.partition(":")
        if scheme == "ephemeral" and not colon:
            return cls(scheme, "")
        if scheme in {"local", "kms"} and target:
            return cls(scheme, target)
        raise ValueError(f"expected local:PATH or kms:KEY_ID_OR_ARN, got {text!r}")

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" if self.target else self.scheme


@contextlib.asynccontextmanager
async def open_keyring(
    spec: KeyringSpec,
    *,
    state: KeyringState,
    vault: str,
    region: str | None = None,
) -> AsyncIterator[Keyring]:
    """The keyring ``spec`` names: a key file read (``KeyringMisconfigured`` if it cannot
    be), a KMS client opened (the key itself is checked on first use). KMS keeps its blind
    index key in ``state`` (the backend)."""
    if spec.scheme == "ephemeral":
        yield Keyring(LocalKeys.ephemeral())
    elif spec.scheme == "local":
        yield Keyring(await load_key_file(Path(spec.target)))
    elif spec.scheme == "kms":
        async with open_kms_client(region=region) as client:
            yield Keyring(KmsKeys(client, spec.target, state, vault=vault))
    else:
        raise KeyringMisconfigured(f"unknown keyring {spec.scheme!r}")
