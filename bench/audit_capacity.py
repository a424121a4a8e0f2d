"""What the audit log costs in DynamoDB, and where the writes land: a realistic mix of
audit events written through the real audit store to moto, then the table scanned.

moto does not throttle, so the figures are counted from what landed: every item's size as
DynamoDB computes it (``storage.dynamodb.sizes``), one write unit per started KB, summed
per partition key. The table has no secondary index (checked): no write is left out.

The mix (``Mix()``): 10,000 single reads from 5 principals, 200 bulk reads of 500 keys,
50 refused calls naming the same 1,000 keys of 490 bytes. ``simulate`` runs it on the
sharded layout, ``simulate_legacy`` on the first one (the "before"), which writes items
straight to the table as servers of that version did. ``tests/storage/dynamodb/
test_audit_capacity.py`` runs a scaled-down mix; ``make bench`` the full one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.dynamodb import DynamoDBAuditStore, audit_legacy, create_audit_table
from storage.dynamodb.audit_keys import day_of, split_sort_key
from storage.dynamodb.sizes import MAX_ITEM_BYTES, item_size, write_units

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

    from storage.dynamodb.items import Item

SINGLE, BULK, REFUSED = "single", "bulk", "refused"
#: The day index and anything else that belongs to no event.
NO_EVENT = "index"
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
IN_FLIGHT = 16


@dataclass(frozen=True, slots=True)
class Mix:
    single_reads: int = 10_000
    principals: int = 5
    bulk_reads: int = 200
    bulk_keys: int = 500
    refused_calls: int = 50
    refused_keys: int = 1_000
    refused_key_bytes: int = 490
    #: Pseudonyms the reads draw from: a bulk read names distinct ones.
    key_pool: int = 5_000

    @classmethod
    def quick(cls) -> Mix:
        return cls(
            single_reads=40, bulk_reads=1, bulk_keys=100, refused_calls=1, refused_keys=10,
            key_pool=100,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Events:
    """The mix's events by phase, in the order they are written."""

    phases: dict[str, list[AuditEvent]]

    @property
    def all(self) -> list[AuditEvent]:
        return [event for events in self.phases.values() for event in events]

    def phase_of(self) -> dict[str, str]:
        return {e.event_id: phase for phase, events in self.phases.items() for e in events}


def pseudonym(n: int) -> str:
    return hashlib.sha256(f"user-{n}@example.com".encode()).hexdigest()


def mix_events(mix: Mix, *, seed: int = 13) -> Events:
    """The mix's events, one day's worth, as the server's auditor builds them."""
    rng = random.Random(seed)
    pool = [pseudonym(n) for n in range(mix.key_pool)]
    prefix = rng.randbytes(8).hex()
    counter = iter(range(1 << 40))
    clock = iter(T0 + timedelta(milliseconds=n) for n in range(1 << 40))

    def event(**fields: Any) -> AuditEvent:
        n = next(counter)
        return AuditEvent(
            event_id=f"{prefix}-{n:012x}",
            time=next(clock),
            request_id=f"{rng.randbytes(8).hex()}-{n:012x}",
            peer=f"ipv4:10.0.{n % 7}.{n % 250}:{40_000 + n % 20_000}",
            operation="read",
            **fields,
        )

    singles = [
        event(
            principal=f"support-{n % mix.principals}",
            method="/piinguin.v1.Piinguin/ReadPiiRecord",
            code=0,
            keys=(KeyOutcome(rng.choice(pool), rng.choice((0, 0, 0, 5))),),
            lawful_basis=2,
            purpose=f"ticket-{100_000 + n}",
        )
        for n in range(mix.single_reads)
    ]
    bulks = [
        event(
            principal="dsar-export",
            method="/piinguin.v1.Piinguin/ReadPiiRecords",
            code=0,
            keys=tuple(
                KeyOutcome(key, rng.choice((0,) * 9 + (5,)))
                for key in rng.sample(pool, mix.bulk_keys)
            ),
            lawful_basis=3,
            purpose=f"dsar-{n}",
        )
        for n in range(mix.bulk_reads)
    ]
    # Random URL-safe base64: about the hardest printable keys there are to compress.
    long_keys = [
        base64.urlsafe_b64encode(rng.randbytes(mix.refused_key_bytes)).decode()[
            : mix.refused_key_bytes
        ]
        for _ in range(mix.refused_keys)
    ]
    refused = [
        event(
            principal="intruder",
            method="/piinguin.v1.Piinguin/ReadPiiRecords",
            code=7,
            keys=tuple(KeyOutcome(key, 7) for key in long_keys),
            lawful_basis=6,
            purpose="none of your business",
        )
        for _ in range(mix.refused_calls)
    ]
    return Events({SINGLE: singles, BULK: bulks, REFUSED: refused})


class Load:
    """Items and write units of one partition key."""

    __slots__ = ("items", "units")

    def __init__(self) -> None:
        self.items = 0
        self.units = 0


@dataclass(frozen=True, slots=True)
class Figures:
    """What one layout cost for one mix, counted from scans of its tables."""

    layout: str
    mix: Mix
    #: Write units by phase (``SINGLE``, ``BULK``, ``REFUSED``, ``NO_EVENT``).
    units: dict[str, int]
    items: int
    largest_item: int
    #: Per phase, per partition key: what landed there.
    loads: dict[str, dict[str, Load]]
    #: Events the table refused (an item over 400 KB): they left no trace.
    not_stored: dict[str, int] = field(default_factory=dict)
    #: What ``check_found`` found wrong, if it ran.
    problems: list[str] = field(default_factory=list)

    def per_event(self, phase: str, events: int) -> float:
        stored = events - self.not_stored.get(phase, 0)
        return self.units.get(phase, 0) / stored if stored else float("nan")

    @property
    def per_single_read(self) -> float:
        return self.per_event(SINGLE, self.mix.single_reads)

    @property
    def per_bulk_read(self) -> float:
        return self.per_event(BULK, self.mix.bulk_reads)

    @property
    def per_bulk_key(self) -> float:
        return self.per_bulk_read / self.mix.bulk_keys

    def hottest(self, phases: Iterable[str]) -> tuple[str, float]:
        """The partition key that took the largest share of the phases' write units (the
        day index counted with them), and that share."""
        top = self.top([*phases, NO_EVENT], 1)
        total = sum(self.units.get(phase, 0) for phase in (*phases, NO_EVENT))
        return (top[0][0], top[0][2] / total) if top and total else ("", 0.0)

    def top(self, phases: Iterable[str], count: int = 5) -> list[tuple[str, int, int]]:
        """``(pk, items, units)`` of the partitions that took the most units."""
        merged: dict[str, tuple[int, int]] = {}
        for phase in phases:
            for pk, load in self.loads.get(phase, {}).items():
                items, units = merged.get(pk, (0, 0))
                merged[pk] = (items + load.items, units + load.units)
        ranked = sorted(merged.items(), key=lambda entry: -entry[1][1])[:count]
        return [(pk, items, units) for pk, (items, units) in ranked]


class _Tally:
    """What the scans of a simulation's tables found, summed per partition key: the
    loads of a key are the same whether its items landed in one table or in several."""

    def __init__(self, events: Events) -> None:
        self._phase_of = events.phase_of()
        self.loads: dict[str, dict[str, Load]] = defaultdict(lambda: defaultdict(Load))
        self.units: Counter[str] = Counter()
        self.items = 0
        self.largest = 0
        self.not_stored: Counter[str] = Counter()
        self.problems: list[str] = []

    async def add(self, client: DynamoDBClient, table: str) -> None:
        """Count what a scan of ``table`` finds."""
        described = (await client.describe_table(TableName=table))["Table"]
        if described.get("GlobalSecondaryIndexes") or described.get("LocalSecondaryIndexes"):
            raise RuntimeError("the audit table has secondary indexes: their writes count too")
        self.count(await scan(client, table))

    def count(self, items: Iterable[Item]) -> None:
        for item in items:
            _, event_id = split_sort_key(item["sk"]["S"])
            phase = self._phase_of.get(event_id, NO_EVENT)
            load = self.loads[phase][item["pk"]["S"]]
            cost = write_units(item)
            load.items += 1
            load.units += cost
            self.units[phase] += cost
            self.items += 1
            self.largest = max(self.largest, item_size(item))

    def figures(self, layout: str, mix: Mix) -> Figures:
        return Figures(
            layout,
            mix,
            dict(self.units),
            self.items,
            self.largest,
            {phase: dict(by_pk) for phase, by_pk in self.loads.items()},
            dict(self.not_stored),
            self.problems,
        )


async def scan(client: DynamoDBClient, table: str) -> list[Item]:
    """Every item of the table: what actually landed."""
    items: list[Item] = []
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    async for page in pages:
        items += page["Items"]
    return items


def tables(events: Events, most_items: int | None) -> list[Events]:
    """The events each table gets: all of them in one (``most_items`` None), or each
    phase in tables of about ``most_items`` items at most.

    moto sorts a whole table on every Query and Scan page, so the full mix in one table
    would take it hours to count; DynamoDB charges a partition key the same wherever its
    items come from, so loads add up across tables exactly.
    """
    if most_items is None:
        return [events]
    loads: list[Events] = []
    for phase, phase_events in events.phases.items():
        chunk: list[AuditEvent] = []
        items = 0
        for event in phase_events:
            size = 2 + len({k.modified_value for k in event.keys})
            if chunk and items + size > most_items:
                loads.append(Events({phase: chunk}))
                chunk, items = [], 0
            chunk.append(event)
            items += size
        if chunk:
            loads.append(Events({phase: chunk}))
    return loads


@contextlib.asynccontextmanager
async def fresh_audit_table(client: DynamoDBClient) -> AsyncIterator[str]:
    name = f"piinguin-audit-sim-{uuid.uuid4().hex[:12]}"
    await create_audit_table(client, name, poll_seconds=1)
    try:
        yield name
    finally:
        await client.delete_table(TableName=name)


async def _each(
    events: Sequence[AuditEvent], write: Callable[[AuditEvent], Awaitable[None]]
) -> None:
    """``write`` every event, ``IN_FLIGHT`` at a time, as concurrent calls would."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(event: AuditEvent) -> None:
        async with gate:
            await write(event)

    async with asyncio.TaskGroup() as group:
        for event in events:
            group.create_task(one(event))


async def simulate(
    client: DynamoDBClient,
    mix: Mix,
    events: Events,
    *,
    most_items: int | None = None,
    checked_tables: int | None = None,
    checked_keys: int | None = None,
) -> Figures:
    """The mix through ``DynamoDBAuditStore``, phase after phase, each table counted from
    a scan before the next. The events of the first ``checked_tables`` tables of each phase
    (all, if None) are checked with ``check_found`` (by ``checked_keys`` keys a table)."""
    tally = _Tally(events)
    checked: Counter[str] = Counter()
    for load in tables(events, most_items):
        async with fresh_audit_table(client) as table:
            store = DynamoDBAuditStore(client, table)
            for phase_events in load.phases.values():
                await _each(phase_events, store.append)
            await tally.add(client, table)
            phase = next(iter(load.phases))
            if checked_tables is None or checked[phase] < checked_tables:
                checked[phase] += 1
                tally.problems += await check_found(client, table, load, most_keys=checked_keys)
    return tally.figures("sharded", mix)


def _legacy_items(event: AuditEvent) -> list[Item] | None:
    """The first layout's items for ``event``; None if DynamoDB would refuse one (over
    400 KB), and with it the request and the event."""
    items = audit_legacy.event_items(event)
    return None if max(item_size(item) for item in items) > MAX_ITEM_BYTES else items


async def simulate_legacy(
    client: DynamoDBClient, mix: Mix, events: Events, *, most_items: int | None = None
) -> Figures:
    """The mix as the first layout wrote it, 25 items a request, then scanned. An event
    with an item over 400 KB is not stored (nor sent: aiohttp warns about a request body
    over 1 MB)."""
    tally = _Tally(events)
    phase_of = events.phase_of()

    async def write(client: DynamoDBClient, table: str, event: AuditEvent) -> None:
        items = _legacy_items(event)
        if items is None:
            tally.not_stored[phase_of[event.event_id]] += 1
            return
        for start in range(0, len(items), 25):
            batch: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            await client.batch_write_item(RequestItems={table: batch})

    for load in tables(events, most_items):
        async with fresh_audit_table(client) as table:
            await client.put_item(TableName=table, Item=audit_legacy.day_index_item(day_of(T0)))
            for phase_events in load.phases.values():
                await _each(phase_events, functools.partial(write, client, table))
            await tally.add(client, table)
    return tally.figures("first", mix)


def legacy_figures(mix: Mix, events: Events) -> Figures:
    """What ``simulate_legacy`` counts, from the items the first layout writes, without
    writing them: the same sizes, computed as DynamoDB does (the suite checks that both
    agree)."""
    tally = _Tally(events)
    phase_of = events.phase_of()
    tally.count([audit_legacy.day_index_item(day_of(T0))])
    for event in events.all:
        items = _legacy_items(event)
        if items is None:
            tally.not_stored[phase_of[event.event_id]] += 1
        else:
            tally.count(items)
    return tally.figures("first", mix)


async def _every_page(store: DynamoDBAuditStore, query: AuditQuery) -> list[AuditEvent]:
    found: list[AuditEvent] = []
    while True:
        page = await store.query(query)
        found += page.events
        if not page.next_page_token:
            return found
        query = query._replace(page_token=page.next_page_token)


async def check_found(
    client: DynamoDBClient, table: str, events: Events, *, most_keys: int | None = None
) -> list[str]:
    """Every event found by its principal and by time range, and by each of its keys (of
    the first ``most_keys`` keys only, if given), exactly once each and as it was written;
    the problems, if any."""
    store = DynamoDBAuditStore(client, table)
    everything = sorted(events.all, key=lambda e: (e.time, e.event_id))
    problems: list[str] = []
    by_time = await _every_page(store, AuditQuery(since=T0 - timedelta(days=1), limit=1000))
    if by_time != everything:
        problems.append(f"by time range: {len(by_time)} events for {len(everything)}")
    by_principal: defaultdict[str, list[AuditEvent]] = defaultdict(list)
    by_key: defaultdict[str, list[AuditEvent]] = defaultdict(list)
    for event in everything:
        by_principal[event.principal].append(event)
        for key in dict.fromkeys(k.modified_value for k in event.keys):
            narrowed = tuple(k for k in event.keys if k.modified_value == key)
            by_key[key].append(event._replace(keys=narrowed))
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def check(what: str, query: AuditQuery, expected: list[AuditEvent]) -> None:
        async with gate:
            found = await _every_page(store, query)
        if found != expected:
            problems.append(f"by {what}: {len(found)} events for {len(expected)}")

    async with asyncio.TaskGroup() as group:
        for principal, expected in by_principal.items():
            group.create_task(
                check("principal", AuditQuery(principal=principal, limit=1000), expected)
            )
        for key, expected in list(by_key.items())[:most_keys]:
            group.create_task(check("key", AuditQuery(modified_value=key, limit=1000), expected))
    return problems
