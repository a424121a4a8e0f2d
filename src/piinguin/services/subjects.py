"""Data-subject rights (GDPR Art. 15, 17, 18): finding a person's records from what they
know, and the acts on them (export, erase, restrict), for the v1 service.

Every act starts the same way (``Subjects.resolve``): the request is checked, the caller's
grant must allow the act with the stated basis and purpose (audited if not), and the
person's pseudonyms are found three ways: named in the request; by the blind index of
each value (``storage.encrypted``); and, with ``--pii-salts``, by recomputing Snowplow's
pseudonym of each value under each salt epoch and hash function. A candidate from the
index or a recomputation is answered only once its record, decrypted, holds the value
(and the field, when one is named): truncated indexes share values by design.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

from piinguin.access.context import count_items
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Operation
from piinguin.limits import MAX_ORIGINAL_BYTES, MAX_PROVENANCE_CHARS
from piinguin.receipts import ReceiptSigner
from piinguin.services.validation import invalid_argument, justification_problem, key_problem
from piinguin.stored import stored
from piinguin.v1 import SubjectRequest, SubjectValue
from storage import ItemFailed, Record, StorageUnavailable, SubjectStorage
from storage.crypto.blind import normalise
from storage.subjects import snowplow_pseudonym

#: How a record was found, as answered in ``SubjectRecord.found_by``.
BY_PSEUDONYM = "pseudonym"
BY_INDEX = "blind_index"
BY_HASH = "snowplow_hash:"  # + the salt epoch's name


class SaltEpoch(NamedTuple):
    """One salt Snowplow's PII enrichment used, and the hash functions it was used with
    (``--pii-salts``). ``name`` labels it in answers; the salt is never shown."""

    name: str
    salt: str
    hash_functions: tuple[str, ...]

    def __repr__(self) -> str:
        functions = self.hash_functions
        return f"SaltEpoch(name={self.name!r}, salt=<redacted>, hash_functions={functions!r})"


class Resolved(NamedTuple):
    """A person's records, as ``Subjects.resolve`` found them."""

    #: The records found and confirmed, by key: they hold originals, never to be logged.
    records: dict[str, Record]
    #: How each key of ``records`` was found (``BY_*``).
    found_by: dict[str, list[str]]
    #: The pseudonyms the request named, stored or not (an erasure tombstones them all).
    named: list[str]
    #: The value digests of the request's values (``SubjectStorage.value_digest``): what
    #: marks a value without holding it. Empty without a keyring. A value narrowed to a
    #: field has none: a value's mark covers it under every field, more than was asked.
    digests: list[str]
    #: Candidates that could not be opened to confirm them (damaged): never answered as found.
    unreadable: list[str]
    #: False when values were given but neither an index nor salts could look them up.
    complete: bool
    #: Candidates that read as not stored: never written, or past their expiry, which
    #: every read answers as not stored while DynamoDB holds the item until its TTL runs.
    #: Recomputed pseudonyms are the person's by construction; index candidates may be
    #: anyone's (a truncated index is shared), so only an erasure touches those.
    unstored_recomputed: tuple[str, ...] = ()
    unstored_indexed: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Resolved(keys={sorted(self.records)!r}, named={self.named!r})"

    @property
    def keys(self) -> list[str]:
        """Every pseudonym the act applies to: found or named, once each, sorted."""
        return sorted({*self.records, *self.named})


def request_problem(message: SubjectRequest, max_items: int) -> str | None:
    """What is wrong with a subject request's values and pseudonyms, or None. Values are
    personal data: a problem names its position, never its text."""
    if not message.values and not message.modified_values:
        return "name the person: give at least one value or one modified_value"
    for name, count in (
        ("values", len(message.values)),
        ("modified_values", len(message.modified_values)),
    ):
        if count > max_items:
            return f"too many {name}: {count} > {max_items} per call"
    problems = (
        *(f"values[{i}]{p}" for i, v in enumerate(message.values) if (p := _value_problem(v))),
        *(
            f"modified_values[{i}]: {p}"
            for i, k in enumerate(message.modified_values)
            if (p := key_problem(k))
        ),
    )
    return problems[0] if problems else None


def _value_problem(item: SubjectValue) -> str | None:
    if not item.value.strip():
        return ".value is empty"
    if len(item.value) * 4 > MAX_ORIGINAL_BYTES and len(item.value.encode()) > MAX_ORIGINAL_BYTES:
        return f".value is longer than {MAX_ORIGINAL_BYTES} bytes"
    if item.field_name and not item.field_name.isprintable():
        return ".field_name holds a control character"
    if len(item.field_name) > MAX_PROVENANCE_CHARS:
        return f".field_name is longer than {MAX_PROVENANCE_CHARS} characters"
    return None


class Subjects:
    """What the data-subject RPCs share: storage, the gatekeeper, the salts and the
    receipt signer. The RPCs themselves are ``piinguin.services.vault``'s, built on
    ``resolve``."""

    def __init__(
        self,
        storage: SubjectStorage,
        gate: Gatekeeper,
        *,
        max_bulk_items: int,
        salts: Sequence[SaltEpoch] = (),
        signer: ReceiptSigner | None = None,
    ) -> None:
        self.storage = storage
        self.gate = gate
        self.max_bulk_items = max_bulk_items
        self.salts = tuple(salts)
        self.signer = signer or ReceiptSigner.generate()

    async def resolve(self, message: SubjectRequest, operation: Operation) -> Resolved:
        """Check ``message`` and the caller's right to ``operation`` on it, then find the
        person's records. INVALID_ARGUMENT for a bad request, PERMISSION_DENIED (audited)
        for a caller whose grant does not allow it, UNAVAILABLE when storage fails."""
        count_items(len(message.values) + len(message.modified_values))
        basis, purpose = message.lawful_basis, message.purpose
        named = list(dict.fromkeys(message.modified_values))
        # A missing basis or purpose first, as for reads (INVALID_ARGUMENT, as the proto
        # says: the gate would call it a basis the grant lacks); then the gate, so that a
        # caller without the right learns nothing of what else is wrong with its request.
        problem = justification_problem(basis, purpose)
        if problem is not None:
            raise invalid_argument(problem)
        await self.gate.require_read(
            basis, purpose, [k for k in named if key_problem(k) is None], operation=operation
        )
        problem = request_problem(message, self.max_bulk_items)
        if problem is not None:
            raise invalid_argument(problem)
        return await stored(self._find(message.values, named))

    async def again(self, message: SubjectRequest, resolved: Resolved) -> Resolved:
        """``resolved`` with what finding the person anew adds: the records written after
        their value was looked up. An act calls it once its marks stand, which every
        later write meets; a write that landed while ``resolve`` ran met none, and no
        lookup saw it. Only values can find more than before: named pseudonyms are fixed."""
        if not message.values:
            return resolved
        now = await stored(self._find(message.values, resolved.named))
        found_by = {
            key: list(dict.fromkeys([*resolved.found_by.get(key, []), *how]))
            for key, how in now.found_by.items()
        }
        records = resolved.records | now.records
        return Resolved(
            records,
            resolved.found_by | found_by,
            resolved.named,
            resolved.digests,
            sorted({*resolved.unreadable, *now.unreadable} - set(records)),
            resolved.complete and now.complete,
            _union(resolved.unstored_recomputed, now.unstored_recomputed, records),
            _union(resolved.unstored_indexed, now.unstored_indexed, records),
        )

    async def _find(self, values: Sequence[SubjectValue], named: list[str]) -> Resolved:
        found_by: dict[str, list[str]] = {key: [BY_PSEUDONYM] for key in named}
        wanted: dict[str, list[tuple[str, str]]] = {}  # candidate -> [(normal form, field)]
        unreadable: set[str] = set()
        digests: list[str] = []
        complete = True
        for item in values:
            digest = None if item.field_name else await self.storage.value_digest(item.value)
            if digest is not None and digest not in digests:
                digests.append(digest)
            lookup = await self.storage.find(item.value)
            complete = complete and (lookup.indexed or bool(self.salts))
            unreadable.update(lookup.unreadable)
            wish = (normalise(item.value), item.field_name)
            for key in lookup.keys:
                wanted.setdefault(key, []).append(wish)
                found_by.setdefault(key, []).append(BY_INDEX)
            # In a worker thread: MD2 is pure Python (about 0.2 s for a 64 KiB value,
            # per text, epoch and call), and would stall every other call on the loop.
            recomputed = await asyncio.to_thread(self._recomputed, item.value) if self.salts else []
            for key, how in recomputed:
                wanted.setdefault(key, []).append(wish)
                if how not in found_by.setdefault(key, []):
                    found_by[key].append(how)
        records, damaged, unstored = await self._confirmed(named, wanted)
        hashed = {key for key, how in found_by.items() if any(h.startswith(BY_HASH) for h in how)}
        return Resolved(
            records,
            {key: found_by[key] for key in records},
            named,
            digests,
            sorted((unreadable | damaged) - set(records)),
            complete,
            tuple(sorted(unstored & hashed)),
            tuple(sorted(unstored - hashed)),
        )

    def _recomputed(self, value: str) -> list[tuple[str, str]]:
        """(pseudonym, how) for each of Snowplow's pseudonyms ``value`` may have had."""
        # Enrich hashes the raw value; the normal form is tried too, as what a person
        # usually writes in ("Jane@Example.com" for "jane@example.com").
        return [
            (snowplow_pseudonym(text, epoch.salt, function), BY_HASH + epoch.name)
            for epoch in self.salts
            for text in dict.fromkeys((value, normalise(value)))
            for function in epoch.hash_functions
        ]

    async def _confirmed(
        self, named: list[str], wanted: dict[str, list[tuple[str, str]]]
    ) -> tuple[dict[str, Record], set[str], set[str]]:
        """The stored records among the candidates that are the person's: every named one,
        and each other whose original (normalised) and field are one of its wishes; the
        candidates that cannot be opened to tell; and those, not named, read as not stored."""
        candidates = list(dict.fromkeys([*named, *wanted]))
        outcomes = await self.storage.get_many(candidates) if candidates else []
        records: dict[str, Record] = {}
        damaged: set[str] = set()
        unstored: set[str] = set()
        for key, outcome in zip(candidates, outcomes, strict=True):
            if isinstance(outcome, ItemFailed):
                if not outcome.damaged:
                    raise StorageUnavailable(f"a record could not be read: {outcome.reason}")
                damaged.add(key)
            elif outcome is None:
                if key not in named:
                    unstored.add(key)
            elif key in named or _matches(outcome, wanted[key]):
                records[key] = outcome
        return records, damaged, unstored


def _union(a: Sequence[str], b: Sequence[str], found: dict[str, Record]) -> tuple[str, ...]:
    return tuple(sorted({*a, *b} - set(found)))


def _matches(record: Record, wishes: list[tuple[str, str]]) -> bool:
    """Whether ``record`` holds one of the (normal form, field) wishes: not an index
    collision, nor the same value under another field than the one asked for."""
    value = normalise(record.original_value)
    return any(
        value == text and (not field or field == record.field_name) for text, field in wishes
    )
