"""The behaviour every audit store must share, run once per backend: in memory, and on
DynamoDB (moto in server mode, a fresh audit table per test)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from storage import AuditStore
from storage import memory as memory_module
from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.memory import MemoryAuditStore
from storage.records import MAX_KEY_BYTES
from tests.dynamodb_fixtures import dynamodb_client
from tests.storage.audit_events import (
    T0,
    audit_store_on,
    every_page,
    fresh_audit_table,
    make_event,
)


@contextlib.asynccontextmanager
async def memory_backend(_request: pytest.FixtureRequest) -> AsyncIterator[AuditStore]:
    yield MemoryAuditStore()


@contextlib.asynccontextmanager
async def dynamodb_backend(request: pytest.FixtureRequest) -> AsyncIterator[AuditStore]:
    endpoint = request.getfixturevalue("moto_endpoint")
    async with dynamodb_client(endpoint) as client, fresh_audit_table(client) as table_name:
        yield audit_store_on(client, table_name)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Any]] = {
    "memory": memory_backend,
    "dynamodb": dynamodb_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
async def audit(request: pytest.FixtureRequest) -> AsyncIterator[AuditStore]:
    async with BACKENDS[request.param](request) as store:
        yield store


async def append_all(store: AuditStore, *events: AuditEvent) -> None:
    for event in events:
        await store.append(event)


def at(hours: float) -> Any:
    return T0 + timedelta(hours=hours)


async def test_check_passes_on_a_ready_store(audit: AuditStore) -> None:
    await audit.check()


async def test_every_field_round_trips(audit: AuditStore) -> None:
    event = make_event(
        "e1",
        principal="support",
        keys={"k": 0},
        lawful_basis=3,
        purpose="ticket 42",
        request_id="req-1",
        peer="ipv4:10.0.0.1:5000",
        legacy=True,
        calls=2,
        restriction_ground=2,
    )
    await audit.append(event)

    page = await audit.query(AuditQuery(principal="support"))

    assert list(page.events) == [event]
    assert page.next_page_token == ""


async def test_an_event_without_a_restriction_ground_reads_back_without_one(
    audit: AuditStore,
) -> None:
    await audit.append(make_event("e1", keys={"k": 0}))

    [event] = (await audit.query(AuditQuery(modified_value="k"))).events

    assert event.restriction_ground == 0


async def test_a_key_answers_its_events_narrowed_to_its_outcomes(audit: AuditStore) -> None:
    bulk = make_event("e1", at(0), keys=[("k", 0), ("other", 5), ("k", 14)])
    single = make_event("e2", at(1), keys={"k": 5})
    unrelated = make_event("e3", at(2), keys={"other": 0})
    await append_all(audit, bulk, single, unrelated)

    page = await audit.query(AuditQuery(modified_value="k"))

    assert [e.event_id for e in page.events] == ["e1", "e2"]
    assert page.events[0].keys == (KeyOutcome("k", 0), KeyOutcome("k", 14))
    assert page.events[1].keys == (KeyOutcome("k", 5),)
    assert page.events[0].purpose == bulk.purpose
    assert page.next_page_token == ""


async def test_a_principal_answers_its_whole_events(audit: AuditStore) -> None:
    mine = make_event("e1", at(0), principal="relay", keys={"a": 0, "b": 0})
    theirs = make_event("e2", at(1), principal="support", keys={"a": 0})
    await append_all(audit, mine, theirs)

    page = await audit.query(AuditQuery(principal="relay"))

    assert list(page.events) == [mine]


async def test_key_and_principal_together_answer_their_intersection(audit: AuditStore) -> None:
    events = [
        make_event("e1", at(0), principal="relay", keys={"k": 0}),
        make_event("e2", at(1), principal="support", keys={"k": 0}),
        make_event("e3", at(2), principal="relay", keys={"other": 0}),
        make_event("e4", at(3), principal="relay", keys={"k": 5, "other": 0}),
    ]
    await append_all(audit, *events)

    page = await audit.query(AuditQuery(modified_value="k", principal="relay"))

    assert [e.event_id for e in page.events] == ["e1", "e4"]
    assert page.events[1].keys == (KeyOutcome("k", 5),)


async def test_a_time_range_alone_spans_days_since_inclusive_until_exclusive(
    audit: AuditStore,
) -> None:
    midnight = T0.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    times = [
        midnight - timedelta(microseconds=1),
        midnight,
        midnight + timedelta(days=2, hours=5),
        midnight + timedelta(days=4),
    ]
    events = [make_event(f"e{i}", t, principal=f"p{i}") for i, t in enumerate(times)]
    await append_all(audit, *reversed(events))

    both = await audit.query(AuditQuery(since=times[1], until=times[3]))
    since = await audit.query(AuditQuery(since=times[1]))
    until = await audit.query(AuditQuery(until=times[1]))
    nothing = await audit.query(AuditQuery(since=times[3] + timedelta(days=30)))

    assert list(both.events) == events[1:3]
    assert list(since.events) == events[1:]
    assert list(until.events) == events[:1]
    assert list(nothing.events) == []
    assert nothing.next_page_token == ""


async def test_time_bounds_narrow_a_key_history(audit: AuditStore) -> None:
    events = [make_event(f"e{i}", at(i), keys={"k": 0}) for i in range(4)]
    await append_all(audit, *events)

    page = await audit.query(AuditQuery(modified_value="k", since=at(1), until=at(3)))

    assert list(page.events) == events[1:3]


async def test_events_come_oldest_first_and_ties_by_event_id(audit: AuditStore) -> None:
    events = [
        make_event("b", at(1), keys={"k": 0}),
        make_event("a", at(1), keys={"k": 0}),
        make_event("c", at(0), keys={"k": 0}),
        make_event("d", at(-30), keys={"k": 0}),
    ]
    await append_all(audit, *events)

    page = await audit.query(AuditQuery(modified_value="k"))

    assert [e.event_id for e in page.events] == ["d", "c", "a", "b"]


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(modified_value="k", limit=3),
        AuditQuery(principal="relay", limit=3),
        AuditQuery(modified_value="k", principal="relay", limit=3),
        AuditQuery(since=T0 - timedelta(days=1), limit=3),
    ],
    ids=["key", "principal", "key-and-principal", "time-range"],
)
async def test_pages_hold_exactly_every_event_once(audit: AuditStore, query: AuditQuery) -> None:
    # Eleven events over three days, interleaved with the other principal's.
    mine = [make_event(f"m{i:02}", at(7 * i), principal="relay", keys={"k": 0}) for i in range(7)]
    other = [make_event(f"o{i:02}", at(7 * i + 1), principal="x", keys={"k": 0}) for i in range(4)]
    await append_all(audit, *reversed(mine), *other)
    expected = sorted(
        [*mine, *(other if not query.principal else [])], key=lambda e: (e.time, e.event_id)
    )

    pages = await every_page(audit, query)

    assert [len(page) for page in pages[:-1]] == [3] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 3  # the last page is never empty: no token without more
    assert [e.event_id for page in pages for e in page] == [e.event_id for e in expected]


async def test_a_page_ending_exactly_at_the_last_event_has_no_token(audit: AuditStore) -> None:
    await append_all(audit, *(make_event(f"e{i}", at(i), keys={"k": 0}) for i in range(4)))

    first = await audit.query(AuditQuery(modified_value="k", limit=2))
    second = await audit.query(
        AuditQuery(modified_value="k", limit=2, page_token=first.next_page_token)
    )

    assert [e.event_id for e in first.events] == ["e0", "e1"]
    assert [e.event_id for e in second.events] == ["e2", "e3"]
    assert second.next_page_token == ""


async def test_a_key_at_the_size_limit_has_its_history(audit: AuditStore) -> None:
    longest = "k" * MAX_KEY_BYTES
    await audit.append(make_event("e1", keys={longest: 0, "short": 0}))

    page = await audit.query(AuditQuery(modified_value=longest))

    assert [e.keys for e in page.events] == [(KeyOutcome(longest, 0),)]


@pytest.mark.parametrize("token", ["not a token", "eyJ4IjoxfQ", "%%%", "e30", "1", "2.ü"])
async def test_a_page_token_it_did_not_issue_is_a_value_error(
    audit: AuditStore, token: str
) -> None:
    await audit.append(make_event("e1", keys={"k": 0}))

    with pytest.raises(ValueError, match="page_token"):
        await audit.query(AuditQuery(modified_value="k", page_token=token))


@pytest.mark.parametrize(
    "other",
    [
        AuditQuery(modified_value="other", limit=2),
        AuditQuery(principal="relay", limit=2),
        AuditQuery(since=T0 - timedelta(days=1), limit=2),
        AuditQuery(modified_value="k", since=at(10), limit=2),
    ],
    ids=["another-key", "a-principal", "a-time-range", "a-later-range"],
)
async def test_a_page_token_of_another_query_is_a_value_error(
    audit: AuditStore, other: AuditQuery
) -> None:
    # Accepted, an offset or a position from another answer would skip events silently.
    events = [
        make_event(f"e{i}", at(i), principal="relay", keys={"k": 0, "other": 0}) for i in range(4)
    ]
    await append_all(audit, *events)
    first = await audit.query(AuditQuery(modified_value="k", limit=2))
    assert first.next_page_token

    with pytest.raises(ValueError, match="page_token"):
        await audit.query(other._replace(page_token=first.next_page_token))


async def test_a_page_token_serves_its_query_with_another_page_size(audit: AuditStore) -> None:
    await append_all(audit, *(make_event(f"e{i}", at(i), keys={"k": 0}) for i in range(5)))
    first = await audit.query(AuditQuery(modified_value="k", limit=2))

    rest = await audit.query(
        AuditQuery(modified_value="k", limit=10, page_token=first.next_page_token)
    )

    assert [e.event_id for e in rest.events] == ["e2", "e3", "e4"]
    assert rest.next_page_token == ""


async def test_memory_queries_by_key_or_principal_look_at_their_events_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An export reads one history per record: a scan of the whole log for each held the
    # event loop for minutes once the log was large.
    store = MemoryAuditStore()
    await append_all(
        store,
        *(
            make_event(f"n{i}", at(i / 1000), principal="noise", keys={f"x{i}": 0})
            for i in range(500)
        ),
        make_event("e1", at(1), principal="support", keys={"k": 0}),
        make_event("e2", at(2), principal="support", keys={"k": 0, "j": 0}),
    )
    seen: list[str] = []
    matches = memory_module._matches

    def counted(event: AuditEvent, query: AuditQuery) -> bool:
        seen.append(event.event_id)
        return matches(event, query)

    monkeypatch.setattr(memory_module, "_matches", counted)

    by_key = await store.query(AuditQuery(modified_value="k"))
    by_principal = await store.query(AuditQuery(principal="support"))

    assert [e.event_id for e in by_key.events] == ["e1", "e2"]
    assert [e.event_id for e in by_principal.events] == ["e1", "e2"]
    assert sorted(seen) == ["e1", "e1", "e2", "e2"]
