"""Proof that no original value rests anywhere: every attribute or field, flattened to
bytes, searched for the value in clear, in hex and in base64 (at each of base64's three
alignments, so the value inside a longer base64 string is found too)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping


def flatten(thing: object) -> Iterator[bytes]:
    """Every string and byte string in ``thing``: records, DynamoDB items, lists, maps."""
    if isinstance(thing, bytes | bytearray):
        yield bytes(thing)
    elif isinstance(thing, str):
        yield thing.encode()
    elif isinstance(thing, Mapping):
        for key, value in thing.items():
            yield from flatten(key)
            yield from flatten(value)
    elif isinstance(thing, Iterable):
        for part in thing:
            yield from flatten(part)
    elif thing is not None:
        yield str(thing).encode()


def encodings(value: str) -> list[bytes]:
    raw = value.encode()
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # The first group mixes in the padding bytes, the last one may be padded itself.
        middle = encoded[4:-4]
        forms.append(middle if len(middle) >= 8 else encoded)
    forms += [base64.urlsafe_b64encode(raw).rstrip(b"=")]
    return forms


def found_values(values: Iterable[str], resting: object) -> list[str]:
    """The values (and how) that can be read in ``resting``; empty when none can."""
    blob = b"\0".join(flatten(resting))
    return [
        f"{value!r} as {form!r}" for value in values for form in encodings(value) if form in blob
    ]
