"""Checks on request fields. Each returns a message naming the problem, or None.

Messages name fields and limits, never the values: a key is a pseudonym, but an
"original value" sent in the wrong field would be personal data.
"""

from __future__ import annotations

from piinguin.v1 import LawfulBasis, PiiRecord
from storage import MAX_KEY_BYTES

MAX_PURPOSE_CHARS = 1024
_BASES = frozenset(int(b) for b in LawfulBasis if b != LawfulBasis.UNSPECIFIED)


def key_problem(key: str) -> str | None:
    if not key:
        return "modified_value is empty"
    # Cheap bound first: a str never has more UTF-8 bytes than 4 per character.
    if len(key) * 4 > MAX_KEY_BYTES and len(key.encode()) > MAX_KEY_BYTES:
        return f"modified_value is longer than {MAX_KEY_BYTES} bytes"
    return None


def record_problem(record: PiiRecord) -> str | None:
    problem = key_problem(record.modified_value)
    if problem is None and not record.original_value:
        problem = "original_value is empty"
    return problem


def justification_problem(basis: int, purpose: str) -> str | None:
    if basis == LawfulBasis.UNSPECIFIED:
        return "lawful_basis is required: state the GDPR Art. 6 basis for this read"
    if int(basis) not in _BASES:
        return f"lawful_basis {int(basis)} is not a known basis"
    if not purpose.strip():
        return "purpose is required: say why the original value is needed"
    if len(purpose) > MAX_PURPOSE_CHARS:
        return f"purpose is longer than {MAX_PURPOSE_CHARS} characters"
    return None
