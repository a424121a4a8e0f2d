"""Audit events in a DynamoDB table: a key's or a principal's history is one Query.

The item layout is in ``audit_items``, the table's checks in ``audit_table``; writes go
through the batch machinery the record store uses too (``batch``): 25 items a request,
retried with backoff until a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.dynamodb.audit_items import (
    DAYS,
    PK,
    SK,
    day_index_item,
    day_of,
    day_partition,
    decode,
    event_items,
    iso,
    last_day_before,
    page_token,
    partition,
    start_key,
)
from storage.dynamodb.audit_table import map_audit_errors, verify_audit_table
from storage.dynamodb.batch import MAX_WRITE_BATCH, BatchCall, BatchPolicy
from storage.errors import StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

    from storage.dynamodb.items import Item

#: With a filter, DynamoDB's Limit counts the items it reads, not the ones it returns: read
#: at least this many a request so that a sparse filter does not cost a request per item.
FILTERED_READ = 100
FOREIGN_TOKEN = "page_token was not issued for this query"  # noqa: S105 - a message


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

    def contains(self, value: str) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

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
    holds an attempt that was answered UNAVAILABLE, never less than what happened). Queries
    are strongly consistent and answer whole pages: a page token is given only when more
    events follow.
    """

    def __init__(
        self, client: DynamoDBClient, table_name: str, *, policy: BatchPolicy | None = None
    ) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy if policy is not None else BatchPolicy()
        #: Days whose DAYS index item this store has written: one write a day, not an event.
        self._indexed_days: set[str] = set()

    async def check(self) -> None:
        await verify_audit_table(self._client, self._table)

    async def append(self, event: AuditEvent) -> None:
        day = day_of(event.time)
        items = event_items(event)
        if day not in self._indexed_days:
            items.append(day_index_item(day))
        await self._put(items)
        self._indexed_days.add(day)

    async def query(self, query: AuditQuery) -> AuditPage:
        start = start_key(query.page_token) if query.page_token else None
        times = _Bounds(
            iso(query.since) if query.since is not None else None,
            iso(query.until) if query.until is not None else None,
        )
        if start is not None and not times.contains(start[1]):
            raise ValueError(FOREIGN_TOKEN)
        limit = max(query.limit, 1)
        if times.empty:
            return AuditPage()
        if query.modified_value or query.principal:
            pk = (
                partition("KEY", query.modified_value)
                if query.modified_value
                else partition("PRINCIPAL", query.principal)
            )
            if start is not None and start[0] != pk:
                raise ValueError(FOREIGN_TOKEN)
            principal = query.principal if query.modified_value else ""
            items = await self._read(pk, times, limit + 1, start, principal=principal)
        else:
            items = await self._read_days(query, times, limit + 1, start)
        page = items[:limit]
        try:
            events = tuple(decode(item) for item in page)
        except (KeyError, ValueError) as exc:
            # Neither the item nor the exception (which may quote it) goes any further.
            raise StorageMisconfigured(
                f"DynamoDB audit table {self._table!r} holds an item that is not an audit event"
            ) from exc
        return AuditPage(events, page_token(page[-1]) if len(items) > limit else "")

    async def _put(self, items: list[Item]) -> None:
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

        failed = await BatchCall(self._policy).send_in_batches(list(by_id), MAX_WRITE_BATCH, send)
        if failed:
            raise StorageUnavailable(
                f"{len(failed)} of an audit event's {len(items)} items were not written to "
                f"DynamoDB table {self._table!r} before the retry deadline"
            )

    async def _read_days(
        self, query: AuditQuery, times: _Bounds, want: int, start: tuple[str, str] | None
    ) -> list[Item]:
        """Up to ``want`` events of a time range alone, day partition after day partition."""
        days = _Bounds(
            day_of(query.since) if query.since is not None else None,
            last_day_before(query.until) if query.until is not None else None,
        )
        partitions = [day_partition(day) for day in await self._indexed(days)]
        if start is not None:
            if start[0] not in partitions:
                raise ValueError(FOREIGN_TOKEN)
            partitions = partitions[partitions.index(start[0]) :]
        items: list[Item] = []
        for pk in partitions:
            resume = start if start is not None and pk == start[0] else None
            items += await self._read(pk, times, want - len(items), resume)
            if len(items) >= want:
                break
        return items

    async def _indexed(self, days: _Bounds) -> list[str]:
        """The days between ``days``' bounds that have events, oldest first."""
        if days.empty:
            return []
        items = await self._read(DAYS, days, want=None, start=None)
        return [item[SK]["S"] for item in items]

    async def _read(
        self,
        pk: str,
        bounds: _Bounds,
        want: int | None,
        start: tuple[str, str] | None,
        *,
        principal: str = "",
    ) -> list[Item]:
        """Up to ``want`` (or all) items of partition ``pk`` within ``bounds``, after
        ``start``, oldest first; only those of ``principal`` if given."""
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
        if start is not None:
            request["ExclusiveStartKey"] = {PK: {"S": start[0]}, SK: {"S": start[1]}}
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
        return items
