"""Checks on request fields. Each returns a message naming the problem, or None;
``invalid_argument`` is the error a service raises for one.

Messages name fields and limits, never the values: a key is a pseudonym, but an
"original value" sent in the wrong field would be personal data. What a record may hold
is defined once, in ``piinguin.limits``, which the relay and the CLI apply too.
"""

from __future__ import annotations

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.limits import MAX_PURPOSE_CHARS, key_problem, record_problem
from piinguin.v1 import KNOWN_BASES, LawfulBasis

__all__ = ["invalid_argument", "justification_problem", "key_problem", "record_problem"]

#: Plain ints, not the mapping's values: this runs for every read, and hashing an enum
#: member costs three times an int's.


def invalid_argument(problem: str) -> GRPCError:
    return GRPCError(Status.INVALID_ARGUMENT, problem)


def justification_problem(basis: int, purpose: str) -> str | None:
    if basis == LawfulBasis.UNSPECIFIED:
        return "lawful_basis is required: state the GDPR Art. 6 basis for this read"
    if int(basis) not in KNOWN_BASES:
        return f"lawful_basis {int(basis)} is not a known basis"
    if not purpose.strip():
        return "purpose is required: say why the original value is needed"
    if len(purpose) > MAX_PURPOSE_CHARS:
        return f"purpose is longer than {MAX_PURPOSE_CHARS} characters"
    return None
