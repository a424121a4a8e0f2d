"""``--pii-salts``: the salts Snowplow's PII enrichment hashed with, so that a person's
records can be found by recomputing their pseudonyms (``piinguin.services.subjects``).

The file is TOML, one ``[[epochs]]`` table per salt the pipeline has used::

    [[epochs]]
    name = "2024"                                  # found_by says snowplow_hash:2024
    salt_file = "/run/secrets/pii-salt-2024"       # the file's text, one final newline dropped
    hash_functions = ["SHA-256"]

    [[epochs]]
    name = "2025"
    salt_secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pii-salt"
    hash_functions = ["SHA-256", "MD5"]

A salt is read once, at start, from a file or a Secrets Manager secret's SecretString
(through aioboto3, whose endpoint follows ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` as botocore's
does), never from the file itself or a flag: anyone who holds it can recompute every
pseudonym. Errors name the file and the key at fault, never a salt.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from piinguin.services.subjects import SaltEpoch
from storage.subjects import SNOWPLOW_HASHES

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):[0-9]{12}:secret:.+"
)
_KEYS = frozenset({"name", "salt_file", "salt_secret", "hash_functions"})
#: Snowplow's names by the form ``snowplow_pseudonym`` accepts too (``sha256``).
_HASHES = {name.replace("-", ""): name for name in SNOWPLOW_HASHES}


class SaltsError(ValueError):
    """The salts file cannot be used; the message names the file and the key, never a salt."""


class _Source(NamedTuple):
    """Where one epoch's salt is, before it is read."""

    name: str
    hash_functions: tuple[str, ...]
    file: Path | None
    secret: str | None  # a Secrets Manager ARN
    where: str  # "epochs[1]", for messages


def parse_salts(text: str, *, source: str) -> list[_Source]:
    """The epochs ``text`` declares, checked; ``SaltsError`` naming ``source`` and the key."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SaltsError(f"{source}: not TOML: {exc}") from None
    unknown = sorted(set(document) - {"epochs"})
    if unknown:
        raise SaltsError(f"{source}: unknown key {unknown[0]!r}: expected [[epochs]] tables")
    epochs = document.get("epochs")
    if not isinstance(epochs, list) or not epochs:
        raise SaltsError(f"{source}: needs at least one [[epochs]] table")
    sources: list[_Source] = []
    for i, entry in enumerate(epochs):
        where = f"epochs[{i}]"
        if not isinstance(entry, dict):
            raise SaltsError(f"{source}: {where}: must be a table")
        parsed = _epoch(entry, where, source)
        if any(s.name == parsed.name for s in sources):
            raise SaltsError(f"{source}: {where}.name: {parsed.name!r} is used twice")
        sources.append(parsed)
    return sources


def _epoch(entry: Mapping[str, Any], where: str, source: str) -> _Source:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        # "salt" itself lands here: a salt written into this file is refused, never echoed.
        raise SaltsError(
            f"{source}: {where}: unknown key {unknown[0]!r}: expected {', '.join(sorted(_KEYS))}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SaltsError(
            f"{source}: {where}.name: required, 1 to 64 letters, digits, '.', '_' or '-'"
        )
    functions = entry.get("hash_functions")
    if not isinstance(functions, list) or not functions:
        raise SaltsError(f'{source}: {where}.hash_functions: a non-empty list, e.g. ["SHA-256"]')
    canonical: list[str] = []
    for function in functions:
        known = (
            _HASHES.get(function.upper().replace("-", "")) if isinstance(function, str) else None
        )
        if known is None:
            raise SaltsError(
                f"{source}: {where}.hash_functions: unknown {function!r}: expected one of "
                f"{', '.join(SNOWPLOW_HASHES)}"
            )
        if known not in canonical:
            canonical.append(known)
    file, secret = entry.get("salt_file"), entry.get("salt_secret")
    if (file is None) == (secret is None):
        raise SaltsError(f"{source}: {where}: give exactly one of salt_file and salt_secret")
    if file is not None and (not isinstance(file, str) or not file):
        raise SaltsError(f"{source}: {where}.salt_file: must be a path")
    if secret is not None and (not isinstance(secret, str) or not _SECRET_ARN.fullmatch(secret)):
        # Not repeated: a salt pasted where its ARN belongs is the salt.
        raise SaltsError(
            f"{source}: {where}.salt_secret: expected the ARN of a Secrets Manager secret "
            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), which this is not"
        )
    return _Source(name, tuple(canonical), Path(file) if file else None, secret, where)


async def load_salts(path: Path) -> list[SaltEpoch]:
    """The epochs of the salts file at ``path``, each salt read; ``SaltsError`` if any
    cannot be."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        raise SaltsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SaltsError(f"{path}: not UTF-8 text") from None
    sources = parse_salts(text, source=str(path))
    epochs: list[SaltEpoch] = []
    for epoch in sources:
        salt = await _salt(epoch, str(path))
        if not salt:
            raise SaltsError(f"{path}: {epoch.where}: the salt is empty")
        epochs.append(SaltEpoch(epoch.name, salt, epoch.hash_functions))
    return epochs


async def _salt(epoch: _Source, source: str) -> str:
    if epoch.file is not None:
        where = f"{source}: {epoch.where}.salt_file"
        try:
            text = await asyncio.to_thread(epoch.file.read_text, encoding="utf-8")
        except OSError as exc:
            raise SaltsError(f"{where}: cannot read {epoch.file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SaltsError(f"{where}: {epoch.file} is not UTF-8 text") from None
        # What `echo salt > file` adds; any other whitespace is the salt's own.
        return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    assert epoch.secret is not None  # parse_salts allows one or the other
    return await _secret_string(epoch.secret, f"{source}: {epoch.where}.salt_secret")


async def _secret_string(arn: str, where: str) -> str:
    match = _SECRET_ARN.fullmatch(arn)
    assert match is not None  # checked by parse_salts
    try:
        async with aioboto3.Session().client(
            "secretsmanager", region_name=match["region"]
        ) as client:
            answer = await client.get_secret_value(SecretId=arn)
    except ClientError as exc:
        # The code only: messages may quote what was sent.
        code = exc.response.get("Error", {}).get("Code", "an error")
        raise SaltsError(f"{where}: Secrets Manager answered {code}") from None
    except BotoCoreError as exc:
        raise SaltsError(f"{where}: cannot ask Secrets Manager ({type(exc).__name__})") from None
    if "SecretString" not in answer:
        raise SaltsError(f"{where}: the secret has no SecretString (a binary secret)")
    return str(answer["SecretString"])


def describe(epochs: Sequence[SaltEpoch]) -> list[str]:
    """The epochs as the start log names them: ``2024 (SHA-256, MD5)``, never the salt."""
    return [f"{e.name} ({', '.join(e.hash_functions)})" for e in epochs]
