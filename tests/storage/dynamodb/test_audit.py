"""DynamoDB audit store specifics: the table layout, request counts, batching and retries,
the table checks and error translation. Against moto in server mode, a fresh table each."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest

from storage import StorageMisconfigured, StorageUnavailable
from storage.audit import AuditQuery, KeyOutcome
from storage.dynamodb import (
    BatchPolicy,
    DynamoDBAuditStore,
    TablesMissing,
    audit_legacy,
    create_audit_table,
    create_table,
)
from storage.dynamodb.audit_items import SHARDS, decode, event_items, shard_of
from storage.dynamodb.sizes import MAX_ITEM_BYTES, item_size, write_units
from storage.records import MAX_KEY_BYTES
from tests.dynamodb_fixtures import dynamodb_client, fresh_table_name
from tests.storage.audit_events import (
    T0,
    audit_store_on,
    every_page,
    fresh_audit_table,
    make_event,
)
from tests.storage.dynamodb.faults import FAST_RETRIES, client_error, throttled

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


@pytest.fixture
async def audit_table(dynamodb: DynamoDBClient) -> AsyncIterator[str]:
    async with fresh_audit_table(dynamodb) as table_name:
        yield table_name


@contextlib.contextmanager
def requests_of(client: DynamoDBClient, operation: str) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every ``operation`` call the client makes meanwhile, taken from
    botocore's own event hooks: the real client's calls, not a wrapper's."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    event = f"provide-client-params.dynamodb.{operation}"
    client.meta.events.register(event, record)
    try:
        yield sent
    finally:
        client.meta.events.unregister(event, record)


async def all_items(client: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    """Every item of the table, read with Scan: what actually landed."""
    items: list[dict[str, Any]] = []
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    async for page in pages:
        items += page["Items"]
    return items


class HeldBack:
    """Wraps the real client; its BatchWriteItem leaves the items ``hold`` picks unprocessed,
    as DynamoDB does under load, and sends only the rest. Everything else is delegated."""

    def __init__(self, client: DynamoDBClient, hold: Callable[[dict[str, Any], int], bool]) -> None:
        self._client: Any = client
        self._hold = hold
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> Any:
        self.attempts += 1
        [(table, requests)] = RequestItems.items()
        held = [r for r in requests if self._hold(r["PutRequest"]["Item"], self.attempts)]
        sent = [r for r in requests if r not in held]
        if sent:
            await self._client.batch_write_item(RequestItems={table: sent})
        return {"UnprocessedItems": {table: held} if held else {}}

    def store(self, table: str, policy: BatchPolicy = FAST_RETRIES) -> DynamoDBAuditStore:
        return audit_store_on(cast("DynamoDBClient", self), table, policy=policy)


async def test_an_event_is_stored_once_with_a_pointer_and_an_item_per_key(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    event = make_event("e1", principal="support", keys=[("a", 0), ("b", 5), ("a", 14)])
    shard = f"{shard_of('e1'):02}"

    await audit_store_on(dynamodb, audit_table).append(event)

    items = {item["pk"]["S"]: item for item in await all_items(dynamodb, audit_table)}
    home, pointer = f"DAY#2024-05-06#{shard}", f"BY#support#{shard}"
    assert sorted(items) == sorted([home, pointer, "DAYS", "KEY#a", "KEY#b"])
    assert items["DAYS"] == {"pk": {"S": "DAYS"}, "sk": {"S": f"2024-05-06#{SHARDS}"}}
    sk = "2024-05-06T07:08:09.123456+00:00#e1"
    assert {pk: item["sk"]["S"] for pk, item in items.items() if pk != "DAYS"} == dict.fromkeys(
        [home, pointer, "KEY#a", "KEY#b"], sk
    )
    # The pointer is only a pointer; the event's keys are in its home alone, compressed.
    assert items[pointer] == {"pk": {"S": pointer}, "sk": {"S": sk}, "home": {"S": home}}
    assert decode(items[home]) == event
    assert items["KEY#a"]["codes"] == {"L": [{"N": "0"}, {"N": "14"}]}
    assert items["KEY#b"]["principal"] == {"S": "support"}
    assert "keyOutcomes" not in items["KEY#a"]
    assert all(write_units(item) == 1 for item in items.values())


async def test_an_event_without_a_principal_has_no_pointer(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    store = audit_store_on(dynamodb, audit_table)
    await store.append(make_event("e1", principal="", operation="", calls=6000))

    items = await all_items(dynamodb, audit_table)

    assert sorted(item["pk"]["S"][:4] for item in items) == ["DAY#", "DAYS"]
    page = await store.query(AuditQuery(since=T0))
    assert [(e.event_id, e.calls) for e in page.events] == [("e1", 6000)]


async def test_a_key_history_is_one_query_and_a_principal_history_one_per_shard(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    store = audit_store_on(dynamodb, audit_table)
    for i in range(20):
        await store.append(make_event(f"e{i:02}", T0 + timedelta(days=i), keys={"k": 0, "x": 0}))

    with requests_of(dynamodb, "Query") as queries:
        by_key = await store.query(AuditQuery(modified_value="k"))
    with (
        requests_of(dynamodb, "Query") as principal_queries,
        requests_of(dynamodb, "BatchGetItem") as gets,
    ):
        by_principal = await store.query(AuditQuery(principal="analyst", since=T0))

    assert len(by_key.events) == 20
    assert len(queries) == 1
    assert queries[0]["ExpressionAttributeValues"][":pk"] == {"S": "KEY#k"}
    assert [e.event_id for e in by_principal.events] == [f"e{i:02}" for i in range(20)]
    assert {e.keys for e in by_principal.events} == {(KeyOutcome("k", 0), KeyOutcome("x", 0))}
    # Every shard of the principal, and the first layout's partition, at once.
    assert sorted(q["ExpressionAttributeValues"][":pk"]["S"] for q in principal_queries) == [
        *(f"BY#analyst#{shard:02}" for shard in range(SHARDS)),
        "PRINCIPAL#analyst",
    ]
    assert len(gets) == 1  # the 20 events the pointers lead to


async def test_a_time_range_alone_reads_only_the_days_that_have_events(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    store = audit_store_on(dynamodb, audit_table)
    await store.append(make_event("e1", T0))
    await store.append(make_event("e2", T0 + timedelta(days=300)))

    with requests_of(dynamodb, "Query") as queries:
        page = await store.query(AuditQuery(since=T0 - timedelta(days=1000)))

    assert [e.event_id for e in page.events] == ["e1", "e2"]
    # The day index, then the two days' shards: not the 1300 days in between.
    partitions = [q["ExpressionAttributeValues"][":pk"]["S"] for q in queries]
    assert partitions[0] == "DAYS"
    assert sorted(partitions[1:]) == sorted(
        f"DAY#{day}#{shard:02}" for day in ("2024-05-06", "2025-03-02") for shard in range(SHARDS)
    )


async def test_a_large_event_is_written_in_batches_of_25_and_the_day_index_once(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    store = audit_store_on(dynamodb, audit_table)
    keys = {f"key-{i:02}": 0 for i in range(60)}

    with requests_of(dynamodb, "BatchWriteItem") as batches:
        await store.append(make_event("e1", keys=keys))
        await store.append(make_event("e2", T0 + timedelta(seconds=1), keys={"key-00": 0}))

    sizes = [len(b["RequestItems"][audit_table]) for b in batches]
    assert sorted(sizes[:3]) == [13, 25, 25]  # 60 keys, home, pointer and day index
    assert sizes[3:] == [3]  # the second event of the day: no day index item again
    page = await store.query(AuditQuery(modified_value="key-59"))
    assert [e.keys for e in page.events] == [(KeyOutcome("key-59", 0),)]


async def test_unprocessed_items_are_retried_until_written(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    # The odd keys' items are left unprocessed by the first three requests.
    flaky = HeldBack(dynamodb, lambda item, tries: tries <= 3 and item["pk"]["S"][-1] in "13579")
    store = flaky.store(audit_table)

    await store.append(make_event("e1", keys={f"k{i}": 0 for i in range(30)}))

    assert flaky.attempts > 2
    assert len(await all_items(dynamodb, audit_table)) == 33
    page = await store.query(AuditQuery(modified_value="k29"))
    assert [e.event_id for e in page.events] == ["e1"]


async def test_an_item_unprocessed_past_the_deadline_fails_the_append(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    stuck = HeldBack(dynamodb, lambda item, _attempt: item["pk"]["S"] == "KEY#k")
    policy = BatchPolicy(retry_deadline=1.0, backoff_base=0.001, backoff_cap=0.01)

    with pytest.raises(StorageUnavailable, match="1 of an audit event's 5 items") as raised:
        await stuck.store(audit_table, policy).append(make_event("e1", keys={"k": 0, "j": 0}))

    assert stuck.attempts > 1
    assert audit_table in str(raised.value)


async def test_an_unreachable_dynamodb_fails_the_append_and_the_query() -> None:
    async with dynamodb_client(
        "http://127.0.0.1:9", connect_timeout=0.2, retries={"total_max_attempts": 1}
    ) as client:
        store = DynamoDBAuditStore(
            client, "t", policy=BatchPolicy(retry_deadline=0.1, backoff_base=0.01)
        )
        with pytest.raises(StorageUnavailable, match="could not be reached"):
            await store.append(make_event("e1", keys={"k": 0}))
        with pytest.raises(StorageUnavailable, match="could not be reached"):
            await store.query(AuditQuery(modified_value="k"))


async def test_throttled_queries_are_unavailable_without_aws_text(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    class Throttled(HeldBack):
        async def query(self, **_: Any) -> Any:
            raise throttled("Query")

    store = Throttled(dynamodb, lambda *_: False).store(audit_table)

    with pytest.raises(StorageUnavailable) as raised:
        await store.query(AuditQuery(principal="p"))

    assert str(raised.value) == "DynamoDB throttled the request"


async def test_a_token_of_another_query_or_outside_the_range_is_refused(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    store = audit_store_on(dynamodb, audit_table)
    for i in range(3):
        await store.append(make_event(f"e{i}", T0 + timedelta(hours=i), keys={"k": 0}))
    token = (await store.query(AuditQuery(modified_value="k", limit=1))).next_page_token

    assert token
    with pytest.raises(ValueError, match="page_token"):
        await store.query(AuditQuery(principal="analyst", page_token=token))
    with pytest.raises(ValueError, match="page_token"):
        await store.query(AuditQuery(since=T0 - timedelta(days=1), page_token=token))
    with pytest.raises(ValueError, match="page_token"):
        await store.query(
            AuditQuery(modified_value="k", since=T0 + timedelta(hours=1), page_token=token)
        )
    page = await store.query(AuditQuery(modified_value="k", page_token=token))
    assert [e.event_id for e in page.events] == ["e1", "e2"]


async def test_check_names_a_missing_table(dynamodb: DynamoDBClient) -> None:
    name = fresh_table_name()

    with pytest.raises(TablesMissing, match=f"'{name}' does not exist"):
        await audit_store_on(dynamodb, name).check()


async def test_check_refuses_a_records_table_and_appends_to_it_say_why(
    dynamodb: DynamoDBClient,
) -> None:
    name = fresh_table_name()
    await create_table(dynamodb, name)
    store = audit_store_on(dynamodb, name)
    try:
        with pytest.raises(StorageMisconfigured, match="string HASH key 'pk' and a string RANGE"):
            await store.check()
        with pytest.raises(
            StorageMisconfigured, match="'pk' and a string RANGE key 'sk'"
        ) as raised:
            await store.append(make_event("e1", keys={"john@acme.com": 0}))
        assert "john@acme.com" not in str(raised.value)
        assert "AWS says" not in str(raised.value)
    finally:
        await dynamodb.delete_table(TableName=name)


async def test_create_audit_table_is_idempotent(dynamodb: DynamoDBClient) -> None:
    name = fresh_table_name()
    try:
        await create_audit_table(dynamodb, name)
        await create_audit_table(dynamodb, name)
        await audit_store_on(dynamodb, name).check()
    finally:
        await dynamodb.delete_table(TableName=name)


async def test_a_foreign_item_in_a_partition_is_misconfiguration(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    await dynamodb.put_item(
        TableName=audit_table,
        Item={"pk": {"S": "KEY#k"}, "sk": {"S": "x"}, "note": {"S": "john@acme.com"}},
    )

    with pytest.raises(StorageMisconfigured, match="not an audit event") as raised:
        await audit_store_on(dynamodb, audit_table).query(AuditQuery(modified_value="k"))

    assert "john@acme.com" not in str(raised.value)


async def test_other_client_errors_keep_aws_text_out(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    class Refusing(HeldBack):
        async def batch_write_item(self, **_: Any) -> Any:
            raise client_error("AccessDeniedException", "BatchWriteItem")

    with pytest.raises(StorageMisconfigured, match="not allowed") as raised:
        await Refusing(dynamodb, lambda *_: False).store(audit_table).append(make_event("e1"))

    assert "AWS says" not in str(raised.value)


def long_keys(count: int, size: int) -> dict[str, int]:
    """Random printable keys, the hardest for compression: URL-safe base64."""
    return {secrets.token_urlsafe(size)[:size]: 7 for _ in range(count)}


async def test_an_event_too_large_for_one_item_is_split_and_found_by_every_view(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    # A refused call naming 1,000 keys of 490 bytes: about 500 KB of keys.
    keys = long_keys(1000, 490)
    event = make_event("big", principal="mallory", keys=keys, operation="read")
    store = audit_store_on(dynamodb, audit_table)

    with requests_of(dynamodb, "BatchWriteItem") as batches:
        await store.append(event)

    items = await all_items(dynamodb, audit_table)
    assert max(item_size(item) for item in items) <= MAX_ITEM_BYTES
    parts = [item for item in items if item["pk"]["S"].startswith("PART#")]
    assert [p["pk"]["S"] for p in parts] == ["PART#big#1"]
    # The part went first, alone: a home is never written without its parts.
    first = batches[0]["RequestItems"][audit_table]
    assert [r["PutRequest"]["Item"]["pk"]["S"] for r in first] == ["PART#big#1"]
    assert (await store.query(AuditQuery(principal="mallory"))).events == [event]
    assert (await store.query(AuditQuery(since=T0))).events == [event]
    some_key = next(iter(keys))
    by_key = await store.query(AuditQuery(modified_value=some_key))
    assert [e.keys for e in by_key.events] == [(KeyOutcome(some_key, 7),)]


async def test_a_pointer_whose_event_was_never_written_is_passed_over(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    # The home of e1 stays unprocessed until the deadline: the append fails, its pointer
    # and key item stay.
    stuck = HeldBack(dynamodb, lambda item, _: item["pk"]["S"].startswith("DAY#"))
    policy = BatchPolicy(retry_deadline=0.2, backoff_base=0.001, backoff_cap=0.01)
    with pytest.raises(StorageUnavailable):
        await stuck.store(audit_table, policy).append(make_event("e1", keys={"k": 0}))
    store = audit_store_on(dynamodb, audit_table)
    await store.append(make_event("e2", T0 + timedelta(seconds=1), keys={"k": 0}))

    page = await store.query(AuditQuery(principal="analyst"))

    assert [e.event_id for e in page.events] == ["e2"]
    assert page.next_page_token == ""


async def test_events_of_the_first_layout_are_read_with_the_new_ones(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    # What a server of the previous version wrote: the same day, before and after.
    old = [
        make_event(f"old{i}", T0 + timedelta(minutes=2 * i), keys={"k": 5, f"o{i}": 0})
        for i in range(3)
    ]
    legacy_items = [item for event in old for item in audit_legacy.event_items(event)]
    legacy_items.append(audit_legacy.day_index_item("2024-05-06"))
    for item in legacy_items:
        await dynamodb.put_item(TableName=audit_table, Item=item)
    store = audit_store_on(dynamodb, audit_table)
    new = [
        make_event(f"new{i}", T0 + timedelta(minutes=2 * i + 1), keys={"k": 0}) for i in range(3)
    ]
    for event in new:
        await store.append(event)
    in_order = ["old0", "new0", "old1", "new1", "old2", "new2"]

    for query in (
        AuditQuery(modified_value="k", limit=4),
        AuditQuery(principal="analyst", limit=4),
        AuditQuery(since=T0 - timedelta(days=1), limit=4),
    ):
        pages = await every_page(store, query)
        assert [e.event_id for page in pages for e in page] == in_order, query
    by_key = await store.query(AuditQuery(modified_value="k"))
    assert [e.keys for e in by_key.events][:2] == [(KeyOutcome("k", 5),), (KeyOutcome("k", 0),)]
    whole = await store.query(AuditQuery(principal="analyst"))
    assert list(whole.events) == sorted([*old, *new], key=lambda e: e.time)


async def test_the_largest_event_the_server_accepts_is_stored_two_parts_a_request(
    dynamodb: DynamoDBClient, audit_table: str
) -> None:
    # --max-bulk-items' default of keys, each of the most bytes a key may have: some 1.5 MB
    # compressed. A request of more than two parts would be over 1 MB (aiohttp warns, and
    # the suite turns warnings into errors).
    keys = long_keys(1000, MAX_KEY_BYTES)
    event = make_event("huge", keys=keys)
    store = audit_store_on(dynamodb, audit_table)

    with requests_of(dynamodb, "BatchWriteItem") as batches:
        await store.append(event)

    sizes = [len(b["RequestItems"][audit_table]) for b in batches]
    assert sizes[:3] == [2, 2, 1]  # the five parts, first
    items = await all_items(dynamodb, audit_table)
    assert max(item_size(item) for item in items) <= MAX_ITEM_BYTES
    assert (await store.query(AuditQuery(since=T0))).events == [event]


def test_only_an_event_that_stated_a_restriction_ground_has_the_attribute() -> None:
    plain = make_event("e1", keys={"k": 0})
    grounded = plain._replace(event_id="e2", restriction_ground=4)

    [plain_items, grounded_items] = [event_items(e)[1] for e in (plain, grounded)]

    assert all("restrictionGround" not in item for item in plain_items)
    assert [item["restrictionGround"] for item in grounded_items if "codes" in item] == [{"N": "4"}]
    assert decode(grounded_items[-1], key="k").restriction_ground == 4
