"""Who may do what: the policy file, deny by default.

The file is TOML. Each principal lists what it may do; tokens are stored as SHA-256 hex
digests only, several per principal so they can be rotated by editing the file (and sending
SIGHUP). A principal that authenticates with a client certificate is named by the
certificate subject's common name and needs no token::

    [principals.relay]
    token_sha256 = ["<64 hex digits>"]
    operations = ["write"]

    [principals.support]
    token_sha256 = ["<64 hex digits>", "<the next token, during rotation>"]
    operations = ["read"]
    lawful_bases = ["consent", "contract"]
    purpose_pattern = 'ticket-[0-9]+'      # must match the whole purpose
    legacy_consent_reads = false           # reads through the original piinguin API

    [principals.dpo]                       # authenticates with a certificate, CN=dpo
    operations = ["read", "delete", "audit", "find", "export", "erase", "restrict", "unrestrict"]
    lawful_bases = ["legal_obligation"]
    restricted_reads = true                # restricted records, with an Art. 18(2) ground

The data-subject operations (``find``, ``export``, ``erase``, ``restrict``, ``unrestrict``)
are granted only by name, like every other, and each is justified as a read is: a lawful
basis from ``lawful_bases`` and a purpose matching ``purpose_pattern``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from piinguin.v1 import KNOWN_BASES, LAWFUL_BASES, basis_name

#: What a grant can allow; every handler names the one it performs to the gatekeeper.
Operation = Literal[
    "write", "read", "delete", "audit", "find", "export", "erase", "restrict", "unrestrict"
]
OPERATIONS: frozenset[str] = frozenset(get_args(Operation))
#: The operations that must state a lawful basis and a purpose, as a read does.
JUSTIFIED: frozenset[str] = frozenset({"read", "find", "export", "erase", "restrict", "unrestrict"})
#: Why a call was refused, in a word: metrics count refusals by it, so it is one of a
#: fixed few and never the message (which names the principal).
DenialReason = Literal[
    "unauthenticated", "operation", "legacy_api", "lawful_basis", "purpose", "restricted"
]
DENIAL_REASONS: tuple[DenialReason, ...] = get_args(DenialReason)
#: Plain ints, as a grant's bases are: they are checked on every read.
_DIGEST = re.compile(r"[0-9a-f]{64}")
_KNOWN_FIELDS = {
    "token_sha256",
    "operations",
    "lawful_bases",
    "purpose_pattern",
    "legacy_consent_reads",
    "restricted_reads",
}


class Refusal(NamedTuple):
    reason: DenialReason
    message: str


class PolicyError(ValueError):
    """The policy file cannot be used; the message says where and why."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Grant:
    principal: str
    operations: frozenset[str] = frozenset()
    lawful_bases: frozenset[int] = frozenset()
    purpose_pattern: re.Pattern[str] | None = None
    legacy_consent_reads: bool = False
    restricted_reads: bool = False

    def allows(self, operation: str) -> bool:
        return operation in self.operations

    def read_problem(
        self, basis: int, purpose: str, *, legacy: bool = False, operation: Operation = "read"
    ) -> Refusal | None:
        """Why this principal may not read (or perform another ``JUSTIFIED`` operation)
        with this basis and purpose, or None."""
        who = f"principal {self.principal!r}"
        if operation not in self.operations:
            return Refusal("operation", f"{who} may not {operation}")
        if legacy and not self.legacy_consent_reads:
            return Refusal("legacy_api", f"{who} may not read through the legacy API")
        if legacy and self.purpose_pattern is not None:
            # The legacy API sends no purpose: its stand-in must not pass a real pattern.
            return Refusal("purpose", f"{who} needs a purpose; the legacy API sends none")
        if basis not in self.lawful_bases:
            return Refusal(
                "lawful_basis", f"{who} may not claim the lawful basis {basis_name(basis)}"
            )
        # fullmatch: with search, '^ticket-[0-9]+$' accepts "ticket-1\n" ($ matches before
        # a final newline) and an unanchored pattern accepts anything that contains it.
        if self.purpose_pattern is not None and not self.purpose_pattern.fullmatch(purpose):
            return Refusal("purpose", f"{who}: purpose does not match the required pattern")
        return None

    def restricted_read_problem(self) -> Refusal | None:
        """Why this principal may not read restricted records (GDPR Art. 18), or None."""
        if self.restricted_reads:
            return None
        return Refusal(
            "restricted", f"principal {self.principal!r} may not read restricted records"
        )


#: What ``--insecure-no-auth`` grants every caller.
EVERYTHING = Grant(
    principal="anonymous",
    operations=OPERATIONS,
    lawful_bases=KNOWN_BASES,
    legacy_consent_reads=True,
    restricted_reads=True,
)


@dataclass(frozen=True, slots=True)
class Policy:
    grants: Mapping[str, Grant] = field(default_factory=dict)
    tokens: Mapping[str, str] = field(default_factory=dict)  # digest -> principal

    def principal_for_token(self, token: str) -> str | None:
        return self.tokens.get(token_digest(token))

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"{path}: cannot be read ({exc.strerror})") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_document(document, source=str(path))

    @classmethod
    def from_document(cls, document: Mapping[str, Any], *, source: str = "policy") -> Policy:
        principals = document.get("principals")
        if not isinstance(principals, dict) or not principals:
            raise PolicyError(f"{source}: needs a [principals.NAME] table for each principal")
        unknown = set(document) - {"principals"}
        if unknown:
            raise PolicyError(f"{source}: unknown top-level keys {sorted(unknown)}")
        grants: dict[str, Grant] = {}
        tokens: dict[str, str] = {}
        for name, entry in principals.items():
            where = f"{source}: principals.{name}"
            if not isinstance(entry, dict):
                raise PolicyError(f"{where}: must be a table")
            grants[name] = _grant(name, entry, where)
            for digest in _strings(entry, "token_sha256", where):
                if not _DIGEST.fullmatch(digest):
                    raise PolicyError(f"{where}.token_sha256: not a lowercase SHA-256 hex digest")
                if digest in tokens:
                    raise PolicyError(
                        f"{where}.token_sha256: the same token is also given to "
                        f"principals.{tokens[digest]}"
                    )
                tokens[digest] = name
        return cls(grants, tokens)


def _strings(entry: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}.{key}: must be a list of strings")
    return value


def _grant(name: str, entry: Mapping[str, Any], where: str) -> Grant:
    unknown = set(entry) - _KNOWN_FIELDS
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    operations = frozenset(_strings(entry, "operations", where))
    if operations - OPERATIONS:
        raise PolicyError(
            f"{where}.operations: unknown {sorted(operations - OPERATIONS)}; "
            f"choose from {sorted(OPERATIONS)}"
        )
    bases: set[int] = set()
    for text in _strings(entry, "lawful_bases", where):
        basis = LAWFUL_BASES.get(text.lower().replace("-", "_"))
        if basis is None:
            raise PolicyError(
                f"{where}.lawful_bases: unknown {text!r}; choose from {sorted(LAWFUL_BASES)}"
            )
        bases.add(int(basis))
    justified = sorted(operations & JUSTIFIED)
    if justified and not bases:
        raise PolicyError(
            f"{where}.lawful_bases: a principal that may {', '.join(justified)} needs at least one"
        )
    pattern = entry.get("purpose_pattern")
    compiled = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise PolicyError(f"{where}.purpose_pattern: must be a string")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise PolicyError(f"{where}.purpose_pattern: not a valid regex ({exc})") from exc
    legacy = entry.get("legacy_consent_reads", False)
    if not isinstance(legacy, bool):
        raise PolicyError(f"{where}.legacy_consent_reads: must be true or false")
    restricted = entry.get("restricted_reads", False)
    if not isinstance(restricted, bool):
        raise PolicyError(f"{where}.restricted_reads: must be true or false")
    return Grant(name, operations, frozenset(bases), compiled, legacy, restricted)
