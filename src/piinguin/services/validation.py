"""Checks on request fields. Each returns a message naming the problem, or None;
``invalid_argument`` is the error a service raises for one.

Messages name fields and limits, never the values: a key is a pseudonym, but an
"original value" sent in the wrong field would be personal data.
"""

from __future__ import annotations

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.v1 import LAWFUL_BASES, LawfulBasis, PiiRecord
from storage import MAX_KEY_BYTES

MAX_PURPOSE_CHARS = 1024
#: Personal values are short (emails, addresses, ids); the cap keeps every record far
#: below DynamoDB's 400 KB item limit, which would otherwise fail a whole batch.
MAX_ORIGINAL_BYTES = 64 * 1024
MAX_PROVENANCE_CHARS = 2048
_PROVENANCE = ("field_name", "json_path", "schema", "hash_function", "app_id")
#: Plain ints, not the mapping's values: this runs for every read, and hashing an enum
#: member costs three times an int's.
_BASES = frozenset(int(basis) for basis in LAWFUL_BASES.values())


def invalid_argument(problem: str) -> GRPCError:
    return GRPCError(Status.INVALID_ARGUMENT, problem)


def key_problem(key: str) -> str | None:
    if not key:
        return "modified_value is empty"
    # Cheap bound first: a str never has more UTF-8 bytes than 4 per character.
    if len(key) * 4 > MAX_KEY_BYTES and len(key.encode()) > MAX_KEY_BYTES:
        return f"modified_value is longer than {MAX_KEY_BYTES} bytes"
    return None


def record_problem(record: PiiRecord) -> str | None:
    key = record.modified_value
    # key_problem inlined for the common case: this runs for every record of a bulk write.
    if not key or len(key) * 4 > MAX_KEY_BYTES:
        problem = key_problem(key)
        if problem is not None:
            return problem
    value = record.original_value
    if not value:
        return "original_value is empty"
    if len(value) * 4 > MAX_ORIGINAL_BYTES and len(value.encode()) > MAX_ORIGINAL_BYTES:
        return f"original_value is longer than {MAX_ORIGINAL_BYTES} bytes"
    # One cheap test for the common case (none is longer if all together are not); the
    # loop only names the culprit.
    total = (
        len(record.field_name)
        + len(record.json_path)
        + len(record.schema)
        + len(record.hash_function)
        + len(record.app_id)
    )
    if total > MAX_PROVENANCE_CHARS:
        for name in _PROVENANCE:
            if len(getattr(record, name)) > MAX_PROVENANCE_CHARS:
                return f"{name} is longer than {MAX_PROVENANCE_CHARS} characters"
    return None


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
