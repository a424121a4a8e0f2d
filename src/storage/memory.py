"""In-memory backends for development and tests: records and audit events, each behind
the same interface as the real backend and behaving like it."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.records import (
    CHANGED,
    ERASED,
    ItemFailed,
    ReadOutcome,
    Record,
    ReplaceOutcome,
    ScanPage,
    Sealed,
    SealedRecord,
    StoredOutcome,
    WriteOutcome,
    utcnow,
)
from storage.retention import Retention
from storage.subjects import Lookup, Mark, MarkKind, Marks, winning

_new = tuple.__new__  # a NamedTuple built positionally, without its __new__'s frame
SEALED = ItemFailed("the stored value is encrypted: read it with a keyring", damaged=True)


class MemoryStorage:
    """A dict behind the ``Storage`` and ``SealedStorage`` interfaces.

    Each call completes without awaiting, so it is atomic with respect to other calls on
    the same event loop. Records are immutable, so what goes in and out cannot be changed
    behind the store's back. The blind index is a dict of sets of keys; marks
    (``storage.subjects``) are dicts by pseudonym and by value digest, and a write only
    looks at them once there is one.

    With a ``retention`` policy each write sets its record's ``expires_at``; every call
    first prunes the records that have expired, oldest expiry first from a heap, so an
    expired record is gone before anything can read it.
    """

    def __init__(
        self, *, clock: Callable[[], datetime] = utcnow, retention: Retention | None = None
    ) -> None:
        self._records: dict[str, Record | SealedRecord] = {}
        self._index: dict[str, set[str]] = {}
        self._entries: dict[str, bytes] = {}
        #: Marks by pseudonym and by value digest, each key's by kind.
        self._pseudonym_marks: dict[str, dict[MarkKind, Mark]] = {}
        self._digest_marks: dict[str, dict[MarkKind, Mark]] = {}
        self._clock = clock
        self._retention = retention
        #: (expires_at, key) of every record written with an expiry; an entry whose record
        #: was written again since is stale, and skipped when it comes up.
        self._expiries: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._records)

    async def check(self) -> None:
        return None

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        now = self._clock()
        self._prune(now)
        if self._pseudonym_marks:
            return self._put_marked(records, now, sealed=False)
        retention = self._retention
        for record in records:
            key = record.modified_value
            previous = self._records.get(key)
            expires_at = retention.expires_at(record.field_name, now) if retention else None
            if expires_at is not None:
                heapq.heappush(self._expiries, (expires_at, key))
            if isinstance(previous, SealedRecord):
                self._unindex(previous)
            # Positional: _replace() (keywords, then _make) costs twice as much per record.
            self._records[key] = Record(
                key,
                record.original_value,
                record.field_name,
                record.json_path,
                record.schema,
                record.hash_function,
                record.app_id,
                record.collector_tstamp,
                previous.created_at if previous is not None else now,
                now,
                expires_at,
                False,
            )
        return [None] * len(records)

    async def put_sealed(self, records: Sequence[SealedRecord]) -> list[WriteOutcome]:
        now = self._clock()
        self._prune(now)
        if self._pseudonym_marks or self._digest_marks:
            return self._put_marked(records, now, sealed=True)
        self._store_sealed(records, now, False)
        return [None] * len(records)

    def _store_sealed(
        self, records: Sequence[SealedRecord], now: datetime, restricted: bool
    ) -> None:
        stored, index, retention = self._records, self._index, self._retention
        for record in records:
            key = record[0]
            sealed = record[1]
            blind_index = sealed[3]
            previous = stored.get(key)
            created_at: datetime | None
            if previous is None:
                created_at, indexed = now, False
            else:
                created_at = previous[8]
                # A pair written again (the usual case: a user's every event carries it)
                # keeps its place in the index.
                indexed = type(previous) is SealedRecord and previous[1][3] == blind_index
                if not indexed and isinstance(previous, SealedRecord):
                    self._unindex(previous)
            expires_at = retention.expires_at(record[2], now) if retention else None
            if expires_at is not None:
                heapq.heappush(self._expiries, (expires_at, key))
            if sealed[5]:  # the digest travels in, never rests
                sealed = _new(Sealed, (sealed[0], sealed[1], sealed[2], blind_index, sealed[4], ""))
            # Field by field: a slice unpacked into the tuple costs a third more.
            stored[key] = _new(
                SealedRecord,
                (
                    key, sealed, record[2], record[3], record[4], record[5], record[6], record[7],
                    created_at, now, expires_at, restricted,
                ),
            )  # fmt: skip
            if blind_index and not indexed:
                keys = index.get(blind_index)
                if keys is None:
                    index[blind_index] = {key}
                else:
                    keys.add(key)

    def _put_marked(
        self, records: Sequence[Record] | Sequence[SealedRecord], now: datetime, *, sealed: bool
    ) -> list[WriteOutcome]:
        """The writes of a call while marks rest: each key's last record decides."""
        latest = {record[0]: record for record in records}
        outcomes: dict[str, WriteOutcome] = {}
        for key, record in latest.items():
            digest = record[1].digest if isinstance(record, SealedRecord) else ""
            mark = self._mark_of(key, digest)
            if mark is not None and mark.kind == "erased":
                outcomes[key] = ERASED
                continue
            restricted = mark is not None
            if isinstance(record, SealedRecord):
                self._store_sealed([record], now, restricted)
                continue
            previous = self._records.get(key)
            if isinstance(previous, SealedRecord):
                self._unindex(previous)
            expires_at = self._retention.expires_at(record[2], now) if self._retention else None
            if expires_at is not None:
                heapq.heappush(self._expiries, (expires_at, key))
            created_at = previous[8] if previous is not None else now
            self._records[key] = _new(
                Record, (*record[:8], created_at, now, expires_at, restricted)
            )
        return [outcomes.get(record[0]) for record in records]

    def _mark_of(self, pseudonym: str, digest: str) -> Mark | None:
        """The mark deciding a write: erased on either key over restricted on either."""
        found = [self._pseudonym_marks.get(pseudonym, {})]
        if digest:
            found.append(self._digest_marks.get(digest, {}))
        return winning({kind: m[kind] for m in found for kind in m})

    async def value_digest(self, value: str) -> str | None:
        return None

    async def find(self, value: str) -> Lookup:
        return Lookup([], [], indexed=False)

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        mark = Mark(kind, at, reference)
        for marks, keys in ((self._pseudonym_marks, pseudonyms), (self._digest_marks, digests)):
            for key in keys:
                marks.setdefault(key, {})[kind] = mark

    async def unmark(
        self, kind: MarkKind, pseudonyms: Sequence[str], digests: Sequence[str]
    ) -> None:
        for marks, keys in ((self._pseudonym_marks, pseudonyms), (self._digest_marks, digests)):
            for key in keys:
                kinds = marks.get(key)
                if kinds is not None:
                    kinds.pop(kind, None)
                    if not kinds:
                        del marks[key]

    async def marks(self, pseudonyms: Sequence[str], digests: Sequence[str]) -> Marks:
        found = Marks({}, {})
        for marks, keys, into in (
            (self._pseudonym_marks, pseudonyms, found.pseudonyms),
            (self._digest_marks, digests, found.digests),
        ):
            for key in keys:
                mark = winning(marks.get(key, {}))
                if mark is not None:
                    into[key] = mark
        return found

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        if self._expiries:
            self._prune(self._clock())
        for key in keys:
            record = self._records.get(key)
            if record is not None and record.restricted != restricted:
                self._records[key] = record._replace(restricted=restricted)
        return [None] * len(keys)

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        if self._expiries:
            self._prune(self._clock())
        return [SEALED if isinstance(r, SealedRecord) else r for r in map(self._records.get, keys)]

    async def get_stored(self, keys: Sequence[str]) -> list[StoredOutcome]:
        if self._expiries:
            self._prune(self._clock())
        return [self._records.get(key) for key in keys]

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        for key in keys:
            previous = self._records.pop(key, None)
            if isinstance(previous, SealedRecord):
                self._unindex(previous)
        return [None] * len(keys)

    async def scan(self, resume_after: str | None, limit: int) -> ScanPage:
        if self._expiries:
            self._prune(self._clock())
        keys = sorted(k for k in self._records if resume_after is None or k > resume_after)
        page = keys[:limit]
        more = len(keys) > limit
        return ScanPage([(k, self._records[k]) for k in page], page[-1] if more else None)

    async def replace_sealed(
        self, replacements: Sequence[tuple[Record | SealedRecord, SealedRecord]]
    ) -> list[ReplaceOutcome]:
        if self._expiries:
            self._prune(self._clock())
        outcomes: list[ReplaceOutcome] = []
        for expected, new in replacements:
            current = self._records.get(new.modified_value)
            if current != expected or type(current) is not type(expected):
                outcomes.append(CHANGED)
                continue
            if isinstance(current, SealedRecord):
                self._unindex(current)
            self._records[new.modified_value] = new._replace(sealed=new.sealed._replace(digest=""))
            if new.expires_at is not None:
                heapq.heappush(self._expiries, (new.expires_at, new.modified_value))
            if new.sealed.blind_index:
                self._index.setdefault(new.sealed.blind_index, set()).add(new.modified_value)
            outcomes.append(None)
        return outcomes

    async def find_index(self, index: str) -> list[str]:
        if self._expiries:
            self._prune(self._clock())
        return list(self._index.get(index, ()))

    async def load_entry(self, name: str) -> bytes | None:
        return self._entries.get(name)

    async def store_entry(self, name: str, value: bytes) -> bytes:
        return self._entries.setdefault(name, value)

    async def replace_entry(self, name: str, value: bytes) -> None:
        self._entries[name] = value

    def _prune(self, now: datetime) -> None:
        """Remove every record whose expiry is ``now`` or earlier."""
        expiries, records = self._expiries, self._records
        while expiries and expiries[0][0] <= now:
            expires_at, key = heapq.heappop(expiries)
            record = records.get(key)
            if record is not None and record.expires_at == expires_at:
                del records[key]
                if isinstance(record, SealedRecord):
                    self._unindex(record)

    def _unindex(self, record: SealedRecord) -> None:
        keys = self._index.get(record.sealed.blind_index)
        if keys is not None:
            keys.discard(record.modified_value)
            if not keys:
                del self._index[record.sealed.blind_index]


#: The message of a page token this store did not issue for the query it comes with.
FOREIGN_TOKEN = "page_token was not issued for this query"  # noqa: S105 - a message


class MemoryAuditStore:
    """Audit events in a list, and by key and by principal. A page token is an offset into
    one query's answer, so it is signed together with the query: an offset from another
    query's answer would silently skip or repeat events, where DynamoDB's store refuses
    such a token.

    A query by key or principal looks only at that key's or principal's events, as
    DynamoDB's does: an export reads one history per record, and scanning the whole log
    for each held the event loop for minutes once the log was large."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._by_key: dict[str, list[AuditEvent]] = {}
        self._by_principal: dict[str, list[AuditEvent]] = {}
        self._secret = secrets.token_bytes(16)

    def __len__(self) -> int:
        return len(self._events)

    async def check(self) -> None:
        return None

    async def append(self, event: AuditEvent) -> None:
        self._events.append(event)
        for key in dict.fromkeys(k.modified_value for k in event.keys):
            self._by_key.setdefault(key, []).append(event)
        self._by_principal.setdefault(event.principal, []).append(event)

    async def query(self, query: AuditQuery) -> AuditPage:
        start = self._offset(query)
        if query.modified_value:
            candidates = self._by_key.get(query.modified_value, [])
        elif query.principal:
            candidates = self._by_principal.get(query.principal, [])
        else:
            candidates = self._events
        matches = [
            _narrowed(event, query.modified_value)
            for event in sorted(candidates, key=lambda e: (e.time, e.event_id))
            if _matches(event, query)
        ]
        end = start + query.limit
        page = matches[start:end]
        return AuditPage(page, self._token(query, end) if end < len(matches) else "")

    def _token(self, query: AuditQuery, offset: int) -> str:
        # The page size is left out: the offset stays right whatever size the next page has.
        bound = json.dumps(
            [
                query.modified_value,
                query.principal,
                query.since.isoformat() if query.since is not None else None,
                query.until.isoformat() if query.until is not None else None,
                offset,
            ]
        )
        mac = hmac.new(self._secret, bound.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{offset}.{mac}"

    def _offset(self, query: AuditQuery) -> int:
        token = query.page_token
        if not token:
            return 0
        offset, _, _ = token.partition(".")
        if not (offset.isascii() and offset.isdigit() and len(offset) <= 18):
            raise ValueError(FOREIGN_TOKEN)
        if not hmac.compare_digest(token.encode(), self._token(query, int(offset)).encode()):
            raise ValueError(FOREIGN_TOKEN)
        return int(offset)


def _matches(event: AuditEvent, query: AuditQuery) -> bool:
    if query.principal and event.principal != query.principal:
        return False
    if query.modified_value and all(k.modified_value != query.modified_value for k in event.keys):
        return False
    if query.since is not None and event.time < query.since:
        return False
    return query.until is None or event.time < query.until


def _narrowed(event: AuditEvent, key: str) -> AuditEvent:
    if not key:
        return event
    return event._replace(keys=tuple(k for k in event.keys if k.modified_value == key))
