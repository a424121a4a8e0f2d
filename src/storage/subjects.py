"""What storage keeps for data-subject rights (GDPR Art. 15-18): marks, lookups, and the
pseudonyms Snowplow would have made of a value.

A **mark** rests under a pseudonym or under a value's marker digest (the full keyed HMAC of
its normal form, ``SubjectStorage.value_digest``), never under the value itself:

    erased       the subject's records were erased for good: a write of a marked pseudonym,
                 or of a value whose digest is marked, is refused (``records.ERASED``)
    restricted   processing is restricted: such a write is stored with ``restricted`` set

Both kinds may rest on one key; ``erased`` wins wherever a single mark is reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, NamedTuple

from storage.md2 import md2

MarkKind = Literal["erased", "restricted"]
#: The kinds in the order they win: the first one present is the one reported.
KINDS: tuple[MarkKind, ...] = ("erased", "restricted")


class Mark(NamedTuple):
    """A mark as it rests: ``reference`` is the caller's opaque id (a receipt or request
    id), never personal data."""

    kind: MarkKind
    at: datetime
    reference: str


class Marks(NamedTuple):
    """The marks found, keyed as asked (by pseudonym, by digest); an unmarked key is absent."""

    pseudonyms: dict[str, Mark]
    digests: dict[str, Mark]


class Lookup(NamedTuple):
    """What a lookup by value found: the keys whose original, decrypted, normalises to the
    value's normal form, and the candidates that could not be opened to tell (damaged).
    ``indexed`` is ``False`` where the store keeps no blind index (no keyring): its answer
    is empty and says nothing of what is stored."""

    keys: list[str]
    unreadable: list[str]
    indexed: bool = True


def winning(kinds: Mapping[MarkKind, Mark]) -> Mark | None:
    """The mark reported for a key with these kinds of mark resting on it."""
    for kind in KINDS:
        mark = kinds.get(kind)
        if mark is not None:
            return mark
    return None


#: The hash functions Snowplow enrich's PII enrichment may pseudonymise with.
SNOWPLOW_HASHES: tuple[str, ...] = ("MD2", "MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512")
_HASHLIB_NAMES = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
}


def snowplow_pseudonym(value: str, salt: str, hash_function: str) -> str:
    """The pseudonym enrich makes of ``value``: lowercase hex of HASH(value + salt).
    ``hash_function`` as Snowplow names it, in any case, with or without its dash
    (``SHA-256``, ``sha256``); ``ValueError`` naming it for any other."""
    name = hash_function.upper().replace("-", "")
    data = (value + salt).encode()
    if name == "MD2":
        return md2(data).hex()
    algorithm = _HASHLIB_NAMES.get(name)
    if algorithm is None:
        known = ", ".join(SNOWPLOW_HASHES)
        raise ValueError(f"unknown hash function {hash_function!r}: expected one of {known}")
    return hashlib.new(algorithm, data).hexdigest()
