"""Records in a DynamoDB table, batch first.

The item layout is in ``items``, the batching and retries in ``batch``, the error
translation in ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from storage.dynamodb.batch import (
    MAX_GET_BATCH,
    MAX_WRITE_BATCH,
    BatchCall,
    BatchObserver,
    BatchPolicy,
)
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.items import CREATED_AT, KEY, decode, encode, encode_time, key_item, key_of
from storage.dynamodb.tables import Layout, create, verify
from storage.records import ItemFailed, ReadOutcome, Record, WriteOutcome, utcnow

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

    from storage.dynamodb.items import Item


LAYOUT = Layout("table", KEY)


async def create_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the records table on demand (PAY_PER_REQUEST) unless it exists, then wait
    until it is ACTIVE. For development: production tables belong to infrastructure code."""
    await create(client, table_name, LAYOUT, poll_seconds=poll_seconds, max_polls=max_polls)


class DynamoDBStorage:
    """The ``Storage`` interface on a DynamoDB table keyed by the string ``modifiedValue``.

    Takes a ready aioboto3 DynamoDB client and never opens or closes it: whoever made it
    owns it. Each bulk call is cut into BatchWriteItem (25) and BatchGetItem (100) requests,
    sent and retried as ``policy`` says. Reads are strongly consistent, so they see every
    write acknowledged before them.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        policy: BatchPolicy | None = None,
        observer: BatchObserver | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy if policy is not None else BatchPolicy()
        self._observer = observer
        self._clock = clock

    def _batches(self) -> BatchCall:
        """The batch requests of one bulk call: its deadline, its retries told."""
        return BatchCall(self._policy, store="records", observer=self._observer)

    async def check(self) -> None:
        await verify(self._client, self._table, LAYOUT)

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        latest = {record.modified_value: record for record in records}
        call = self._batches()
        # BatchWriteItem replaces whole items, so keeping created_at takes a read first:
        # one strongly consistent BatchGetItem per 100 unique keys. The projection trims
        # the response, not the bill: each key costs a read unit (per 4 KB of its stored
        # item, and one even when nothing is stored) on top of its write unit (per 1 KB).
        # A key whose read stays unprocessed is failed, not written with a guessed
        # created_at. Two concurrent first writes of one key both see nothing stored; the
        # later one's created_at stands.
        stored, unread = await self._get(call, list(latest), attributes=(KEY, CREATED_AT))
        failed = {
            key: ItemFailed(f"not written, its createdAt unread: {failure.reason}")
            for key, failure in unread.items()
        }
        now = encode_time(self._clock())
        requests: dict[str, WriteRequestTypeDef] = {
            key: {
                "PutRequest": {
                    "Item": encode(
                        record, created_at=stored.get(key, {}).get(CREATED_AT, now), updated_at=now
                    )
                }
            }
            for key, record in latest.items()
            if key not in failed
        }
        failed |= await self._write(call, requests)
        return [failed.get(record.modified_value) for record in records]

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        found, failed = await self._get(
            self._batches(),
            list(dict.fromkeys(keys)),
        )
        records = {key: decode(item) for key, item in found.items()}
        return [failed[key] if key in failed else records.get(key) for key in keys]

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        requests: dict[str, WriteRequestTypeDef] = {
            key: {"DeleteRequest": {"Key": key_item(key)}} for key in keys
        }
        failed = await self._write(self._batches(), requests)
        return [failed.get(key) for key in keys]

    async def _write(
        self, call: BatchCall, requests: dict[str, WriteRequestTypeDef]
    ) -> dict[str, ItemFailed]:
        """Send one put or delete per key; answer the keys that failed."""

        async def send(keys: list[str]) -> list[str]:
            with map_dynamodb_errors(self._table):
                response = await self._client.batch_write_item(
                    RequestItems={self._table: [requests[key] for key in keys]}
                )
            return [
                _written_key(request)
                for request in response.get("UnprocessedItems", {}).get(self._table, [])
            ]

        return await call.send_in_batches(list(requests), MAX_WRITE_BATCH, send)

    async def _get(
        self, call: BatchCall, keys: Sequence[str], attributes: Sequence[str] = ()
    ) -> tuple[dict[str, Item], dict[str, ItemFailed]]:
        """Read ``keys`` (unique), strongly consistent, only ``attributes`` if given.

        Answers the items found by key, and the keys that failed; a key in neither is
        not stored.
        """
        found: dict[str, Item] = {}
        request: KeysAndAttributesTypeDef = {"Keys": [], "ConsistentRead": True}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names

        async def send(batch: list[str]) -> list[str]:
            with map_dynamodb_errors(self._table):
                response = await self._client.batch_get_item(
                    RequestItems={self._table: {**request, "Keys": [key_item(k) for k in batch]}}
                )
            items = response.get("Responses", {}).get(self._table, [])
            found.update((key_of(item), item) for item in items)
            left = response.get("UnprocessedKeys", {}).get(self._table, {"Keys": []})
            return [key_of(key) for key in left["Keys"]]

        failed = await call.send_in_batches(keys, MAX_GET_BATCH, send)
        return found, failed


def _written_key(request: WriteRequestOutputTypeDef) -> str:
    if "PutRequest" in request:
        return key_of(request["PutRequest"]["Item"])
    return key_of(request["DeleteRequest"]["Key"])
