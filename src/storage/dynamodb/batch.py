"""Batch requests to DynamoDB: cut to its limits, a bounded number in flight, retried
with backoff until a deadline.

DynamoDB may leave part of a batch undone (``UnprocessedItems``, ``UnprocessedKeys``) or
refuse a whole request (throttling, a 5xx, no connection). Both are retried with exponential
backoff and full jitter until the bulk call's retry deadline; whatever is still undone then
is reported per key as ``ItemFailed``, never dropped. Callers pass unique keys: DynamoDB
rejects a whole request that names one key twice.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.dynamodb.errors import Transient, map_dynamodb_errors
from storage.dynamodb.items import key_item, key_of
from storage.errors import StorageError, StorageUnavailable
from storage.records import ItemFailed

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

    from storage.dynamodb.items import Item

#: DynamoDB's limits on one BatchWriteItem and one BatchGetItem request.
MAX_WRITE_BATCH = 25
MAX_GET_BATCH = 100
#: Sends one request for these keys and answers the keys DynamoDB left unprocessed.
Send = Callable[[list[str]], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """How one bulk call retries, and how many batch requests it keeps in flight.

    The n-th retry of a batch waits a random time in ``[0, min(cap, base * 2**n)]``. No retry
    starts once ``retry_deadline`` seconds have passed since the call began; every batch is
    sent at least once, however long it waited for its turn.
    """

    retry_deadline: float = 10.0
    backoff_base: float = 0.025
    backoff_cap: float = 1.0
    max_concurrency: int = 8

    def __post_init__(self) -> None:
        if not self.retry_deadline > 0:
            raise ValueError("retry_deadline must be positive")
        if not 0 < self.backoff_base <= self.backoff_cap:
            raise ValueError("backoff_base must be positive and at most backoff_cap")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(attempt, 32))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


class BatchCall:
    """The batch requests of one bulk call, sharing its deadline and its concurrency bound.

    The deadline is the call's: a put's read of createdAt and its writes share it, so a
    caller waits at most about ``retry_deadline`` plus one round of requests. If no request
    of the call got an answer from DynamoDB and something failed, DynamoDB is unreachable:
    that is ``StorageUnavailable`` for the whole call, not a failure per item.
    """

    def __init__(self, client: DynamoDBClient, table_name: str, policy: BatchPolicy) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + policy.retry_deadline
        self._in_flight = asyncio.Semaphore(policy.max_concurrency)
        self._reached = False
        self._unreachable: Transient | None = None

    async def write(self, requests: dict[str, WriteRequestTypeDef]) -> dict[str, ItemFailed]:
        """Send one put or delete per key; answer the keys that failed."""

        async def send(keys: list[str]) -> list[str]:
            response = await self._client.batch_write_item(
                RequestItems={self._table: [requests[key] for key in keys]}
            )
            return [
                _written_key(request)
                for request in response.get("UnprocessedItems", {}).get(self._table, [])
            ]

        return await self._run(list(requests), MAX_WRITE_BATCH, send)

    async def get(
        self, keys: Sequence[str], attributes: Sequence[str] = ()
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
            response = await self._client.batch_get_item(
                RequestItems={self._table: {**request, "Keys": [key_item(k) for k in batch]}}
            )
            items = response.get("Responses", {}).get(self._table, [])
            found.update((key_of(item), item) for item in items)
            left = response.get("UnprocessedKeys", {}).get(self._table, {"Keys": []})
            return [key_of(key) for key in left["Keys"]]

        failed = await self._run(keys, MAX_GET_BATCH, send)
        return found, failed

    async def _run(self, keys: Sequence[str], size: int, send: Send) -> dict[str, ItemFailed]:
        failed: dict[str, ItemFailed] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for start in range(0, len(keys), size):
                    group.create_task(self._drive(list(keys[start : start + size]), send, failed))
        except* StorageError as errors:
            # The first call-level error stands for the whole call.
            raise errors.exceptions[0]  # noqa: B904 - it carries its own cause already
        if failed and not self._reached:
            raise StorageUnavailable("DynamoDB could not be reached") from self._unreachable
        return failed

    async def _drive(self, pending: list[str], send: Send, failed: dict[str, ItemFailed]) -> None:
        """Send one batch, then what is left of it, until nothing is or time is up."""
        for attempt in itertools.count():
            try:
                async with self._in_flight:
                    with map_dynamodb_errors(self._table):
                        pending = await send(pending)
                self._reached = True
                reason = "DynamoDB left it unprocessed"
            except Transient as exc:
                self._reached |= exc.reached
                if not exc.reached:
                    self._unreachable = exc
                reason = str(exc)
            if not pending:
                return
            delay = self._policy.backoff(attempt)
            if self._loop.time() + delay > self._deadline:
                failed.update(dict.fromkeys(pending, ItemFailed(f"{reason} until the deadline")))
                return
            await asyncio.sleep(delay)


def _written_key(request: WriteRequestOutputTypeDef) -> str:
    if "PutRequest" in request:
        return key_of(request["PutRequest"]["Item"])
    return key_of(request["DeleteRequest"]["Key"])
