"""Audit events in a DynamoDB table, sharded so that no partition runs hot.

The item layout is in ``audit_items`` (and the first layout, still read, in
``audit_legacy``), the table's checks in ``audit_table``; writes go through the batch
machinery the record store uses too (``batch``): 25 items a request, retried with backoff
until a deadline. A key's history is one Query; a principal's, and a time range's, query
every shard of the view at once and merge them in time order.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.dynamodb.audit_items import (
    day_index_item,
    day_partitions,
    decode,
    event_items,
    home_of,
    is_pointer,
    page_token,
    parts_of,
    principal_partitions,
    resume_after,
)
from storage.dynamodb.audit_keys import DAYS, PK, SK, day_of, iso, last_day_before, partition
from storage.dynamodb.audit_table import map_audit_errors, verify_audit_table
from storage.dynamodb.batch import (
    MAX_GET_BATCH,
    MAX_WRITE_BATCH,
    BatchCall,
    BatchObserver,
    BatchPolicy,
)
from storage.errors import StorageError, StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

    from storage.dynamodb.items import Item

#: With a filter, DynamoDB's Limit counts the items it reads, not the ones it returns: read
#: at least this many a request so that a sparse filter does not cost a request per item.
FILTERED_READ = 100
#: Sorts after any ``DAYS`` sort key of a day (``<day>`` or ``<day>#<shards>``), before
#: the next day's.
_END_OF_DAY = "~"
#: Parts are up to 256 KiB each: two a request keep a request under 1 MB of JSON, past
#: which aiohttp warns that the body blocks the event loop while it is sent.
PARTS_PER_REQUEST = 2


@dataclass(frozen=True, slots=True)
class _Bounds:
    """Inclusive bounds on a sort key, either of them open.

    Event sort keys are ``<time>#<event_id>``: ``iso(until)`` as the upper bound excludes
    events at ``until`` itself, since no sort key equals a bare time.
    """

    low: str | None = None
    high: str | None = None

    @property
    def empty(self) -> bool:
        return self.low is not None and self.high is not None and self.low > self.high

    def from_(self, start: str | None) -> _Bounds:
        """These bounds, starting no earlier than ``start``."""
        if start is None or (self.low is not None and self.low >= start):
            return self
        return _Bounds(start, self.high)

    def condition(self) -> tuple[str, dict[str, AttributeValueTypeDef]]:
        """The sort key's part of a KeyConditionExpression (on ``#sk``), and its values."""
        values: dict[str, AttributeValueTypeDef] = {}
        if self.low is not None:
            values[":low"] = {"S": self.low}
        if self.high is not None:
            values[":high"] = {"S": self.high}
        if self.low is not None and self.high is not None:
            return " AND #sk BETWEEN :low AND :high", values
        if self.low is not None:
            return " AND #sk >= :low", values
        if self.high is not None:
            return " AND #sk <= :high", values
        return "", values


class DynamoDBAuditStore:
    """The ``AuditStore`` interface on a DynamoDB table with string keys ``pk`` and ``sk``.

    Takes a ready aioboto3 DynamoDB client and never opens or closes it. ``append`` returns
    once every item of the event is written; if some are still unprocessed at the retry
    deadline it raises ``StorageUnavailable`` (the items already written stay: the log then
    holds an attempt that was answered UNAVAILABLE, never less than what happened; a
    principal's pointer whose event was not written leads nowhere and is passed over).
    Queries are strongly consistent and answer whole pages: a page token is given only
    when more events follow, and is refused by any other query.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        policy: BatchPolicy | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy if policy is not None else BatchPolicy()
        self._observer = observer
        #: Days whose DAYS index item this store has written: one write a day, not an event.
        self._indexed_days: set[str] = set()

    def _batches(self) -> BatchCall:
        """The batch requests of one bulk call: its deadline, its retries told."""
        return BatchCall(self._policy, store="audit", observer=self._observer)

    async def check(self) -> None:
        await verify_audit_table(self._client, self._table)

    async def append(self, event: AuditEvent) -> None:
        day = day_of(event.time)
        parts, items = event_items(event)
        if day not in self._indexed_days:
            items.append(day_index_item(day))
        if parts:
            await self._put(parts, of=len(parts) + len(items), per_request=PARTS_PER_REQUEST)
        await self._put(items, of=len(parts) + len(items))
        self._indexed_days.add(day)

    async def query(self, query: AuditQuery) -> AuditPage:
        after = resume_after(query)
        times = _Bounds(
            iso(query.since) if query.since is not None else None,
            iso(query.until) if query.until is not None else None,
        ).from_(after)
        limit = max(query.limit, 1)
        if times.empty:
            return AuditPage()
        # One more than the page, to know whether another follows; and one more again,
        # since the bounds include the item the token names.
        want = limit + (2 if after is not None else 1)
        if query.modified_value:
            pk = partition("KEY", query.modified_value)
            items = await self._read(pk, times, want, principal=query.principal)
        elif query.principal:
            items = await self._merged(principal_partitions(query.principal), times, want)
        else:
            items = await self._read_days(query, times, want)
        items = [item for item in items if item[SK]["S"] != after][: limit + 1]
        page = items[:limit]
        try:
            events = await self._events(page, query.modified_value)
        except (KeyError, ValueError, zlib.error) as exc:
            # Neither the item nor the exception (which may quote it) goes any further.
            raise StorageMisconfigured(
                f"DynamoDB audit table {self._table!r} holds an item that is not an audit event"
            ) from exc
        token = page_token(query, page[-1][SK]["S"]) if len(items) > limit else ""
        return AuditPage(events, token)

    async def _events(self, items: list[Item], key: str) -> list[AuditEvent]:
        """The events ``items`` stand for: pointers followed to their homes (those that
        lead nowhere passed over), homes' parts fetched."""
        pointers = [home_of(item) for item in items if is_pointer(item)]
        homes = await self._get(pointers)
        whole = [homes.get(home_of(item)) if is_pointer(item) else item for item in items]
        found = [item for item in whole if item is not None]
        parts = await self._get([part for item in found for part in parts_of(item)])
        return [
            decode(item, key=key, parts=tuple(parts[part] for part in parts_of(item)))
            for item in found
        ]

    async def _put(self, items: list[Item], *, of: int, per_request: int = MAX_WRITE_BATCH) -> None:
        """Write ``items``, some of an event's ``of``, ``per_request`` a request."""
        by_id = {str(index): item for index, item in enumerate(items)}
        ids = {(item[PK]["S"], item[SK]["S"]): index for index, item in by_id.items()}

        async def send(batch: list[str]) -> list[str]:
            with map_audit_errors(self._table):
                response = await self._client.batch_write_item(
                    RequestItems={self._table: [{"PutRequest": {"Item": by_id[i]}} for i in batch]}
                )
            return [
                ids[request["PutRequest"]["Item"][PK]["S"], request["PutRequest"]["Item"][SK]["S"]]
                for request in response.get("UnprocessedItems", {}).get(self._table, [])
            ]

        failed = await BatchCall(
            self._policy, store="audit", observer=self._observer
        ).send_in_batches(list(by_id), per_request, send)
        if failed:
            raise StorageUnavailable(
                f"{len(failed)} of an audit event's {of} items were not written to "
                f"DynamoDB table {self._table!r} before the retry deadline"
            )

    async def _get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Item]:
        """The items stored under ``keys`` (unique), strongly consistent; missing ones
        are absent."""
        if not keys:
            return {}
        by_id = {json.dumps(key): key for key in keys}
        found: dict[tuple[str, str], Item] = {}

        async def send(batch: list[str]) -> list[str]:
            request = [{PK: {"S": by_id[i][0]}, SK: {"S": by_id[i][1]}} for i in batch]
            with map_audit_errors(self._table):
                response = await self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": request, "ConsistentRead": True}}
                )
            for item in response.get("Responses", {}).get(self._table, []):
                found[item[PK]["S"], item[SK]["S"]] = item
            unprocessed = response.get("UnprocessedKeys", {})
            left = unprocessed[self._table]["Keys"] if self._table in unprocessed else []
            return [json.dumps([key[PK]["S"], key[SK]["S"]]) for key in left]

        failed = await BatchCall(
            self._policy, store="audit", observer=self._observer
        ).send_in_batches(list(by_id), MAX_GET_BATCH, send)
        if failed:
            raise StorageUnavailable(
                f"{len(failed)} audit items were not read from DynamoDB table "
                f"{self._table!r} before the retry deadline"
            )
        return found

    async def _read_days(self, query: AuditQuery, times: _Bounds, want: int) -> list[Item]:
        """Up to ``want`` events of a time range alone, day after day, each day's
        partitions merged."""
        days = _Bounds(
            day_of(query.since) if query.since is not None else None,
            last_day_before(query.until) + _END_OF_DAY if query.until is not None else None,
        ).from_(times.low[:10] if times.low is not None else None)
        by_day: dict[str, list[str]] = {}
        if not days.empty:
            for item in await self._read(DAYS, days, want=None):
                index_sk = item[SK]["S"]
                by_day.setdefault(index_sk[:10], []).extend(day_partitions(index_sk))
        items: list[Item] = []
        for day in sorted(by_day):
            items += await self._merged(by_day[day], times, want - len(items))
            if len(items) >= want:
                break
        return items

    async def _merged(self, partitions: list[str], bounds: _Bounds, want: int) -> list[Item]:
        """The first ``want`` items of ``partitions`` within ``bounds``, in sort key
        order: every partition is read at once, up to ``want`` items each."""
        try:
            async with asyncio.TaskGroup() as group:
                reads = [group.create_task(self._read(pk, bounds, want)) for pk in partitions]
        except* StorageError as errors:
            # The first one stands for the query, as one failed read of a batch does.
            raise errors.exceptions[0]  # noqa: B904 - it carries its own cause already
        merged = heapq.merge(*(read.result() for read in reads), key=lambda i: i[SK]["S"])
        return [item for _, item in zip(range(want), merged, strict=False)]

    async def _read(
        self, pk: str, bounds: _Bounds, want: int | None, *, principal: str = ""
    ) -> list[Item]:
        """Up to ``want`` (or all) items of partition ``pk`` within ``bounds``, oldest
        first; only those of ``principal`` if given."""
        sort_condition, values = bounds.condition()
        names = {"#pk": PK} | ({"#sk": SK} if sort_condition else {})
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk" + sort_condition,
            "ConsistentRead": True,
        }
        values[":pk"] = {"S": pk}
        if principal:
            request["FilterExpression"] = "#principal = :principal"
            names["#principal"] = "principal"
            values[":principal"] = {"S": principal}
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        items: list[Item] = []
        while want is None or len(items) < want:
            if want is not None:
                left = want - len(items)
                request["Limit"] = max(left, FILTERED_READ) if principal else left
            with map_audit_errors(self._table):
                response = await self._client.query(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items if want is None else items[:want]
