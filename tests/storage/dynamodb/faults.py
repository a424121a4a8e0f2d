"""Fault injection at the DynamoDB client boundary, for tests.

``FaultyClient`` wraps a real aioboto3 client (against moto) and is passed to
``DynamoDBStorage`` in its place. It is not a mock: every request it lets through is sent
by the real client and answered by moto; everything but the two batch operations is
delegated untouched. On top of that it can

- leave a share of every batch unprocessed: only the rest is sent (and written or read),
  the share comes back as ``UnprocessedItems`` / ``UnprocessedKeys`` as DynamoDB does;
- leave chosen keys unprocessed forever, in writes or reads;
- raise a real botocore error instead of sending a request (``fault``);

and it records every batch request and how many were in flight at once, so tests can hold
the backend to DynamoDB's limits, which moto does not enforce.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError, EndpointConnectionError

from storage.dynamodb import BatchPolicy, DynamoDBStorage

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

#: Given the operation and the index of this batch request (0-based, over both
#: operations), the error to raise instead of sending it, or None.
Fault = Callable[[str, int], Exception | None]
WRITE, GET = "BatchWriteItem", "BatchGetItem"
LIMITS = {WRITE: 25, GET: 100}
#: Retries in tests back off by milliseconds, so they cost next to nothing.
FAST_RETRIES = BatchPolicy(retry_deadline=10.0, backoff_base=0.001, backoff_cap=0.005)


def client_error(code: str, operation: str, *, status: int = 400) -> ClientError:
    """The error botocore raises for an error answer; its message is AWS's own text."""
    response: Any = {
        "Error": {"Code": code, "Message": f"AWS says {code} about john@acme.com"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def throttled(operation: str, _index: int = 0) -> ClientError:
    return client_error("ProvisionedThroughputExceededException", operation)


def connection_lost(_operation: str = "", _index: int = 0) -> EndpointConnectionError:
    return EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@dataclass(frozen=True)
class Sent:
    """One batch request as the backend sent it."""

    operation: str
    keys: list[str]


class FaultyClient:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        unprocessed_share: float = 0.0,
        stuck_writes: Collection[str] = (),
        stuck_reads: Collection[str] = (),
        fault: Fault | None = None,
        seed: int = 0,
    ) -> None:
        self._client: Any = client  # spoken to in plain dicts, as DynamoDB's JSON
        self._share = unprocessed_share
        self._stuck = {WRITE: frozenset(stuck_writes), GET: frozenset(stuck_reads)}
        self._fault = fault
        self._random = random.Random(seed)
        self.sent: list[Sent] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def as_client(self) -> DynamoDBClient:
        """This wrapper, typed as the client it stands in for."""
        return cast("DynamoDBClient", self)

    def count(self, operation: str) -> int:
        return sum(request.operation == operation for request in self.sent)

    def keys_sent(self, operation: str) -> set[str]:
        return {
            key for request in self.sent if request.operation == operation for key in request.keys
        }

    def assert_within_limits(self) -> None:
        """No request was empty, over DynamoDB's limit, or named a key twice."""
        for request in self.sent:
            assert 0 < len(request.keys) <= LIMITS[request.operation], request
            assert len(set(request.keys)) == len(request.keys), request

    async def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> Any:
        with self._request(WRITE, RequestItems, _written_key):
            sent, held = self._split(RequestItems, _written_key, self._stuck[WRITE])
            response = (
                await self._client.batch_write_item(RequestItems=sent)
                if sent
                else {"UnprocessedItems": {}}
            )
        unprocessed = response.setdefault("UnprocessedItems", {})
        for table, requests in held.items():
            unprocessed.setdefault(table, []).extend(requests)
        return response

    async def batch_get_item(self, *, RequestItems: dict[str, dict[str, Any]]) -> Any:
        keys = {table: spec["Keys"] for table, spec in RequestItems.items()}
        with self._request(GET, keys, _key):
            sent, held = self._split(keys, _key, self._stuck[GET])
            response = (
                await self._client.batch_get_item(
                    RequestItems={t: {**RequestItems[t], "Keys": k} for t, k in sent.items()}
                )
                if sent
                else {"Responses": {}}
            )
        unprocessed = response.setdefault("UnprocessedKeys", {})
        for table, held_keys in held.items():
            unprocessed[table] = {**RequestItems[table], "Keys": held_keys}
        return response

    @contextlib.contextmanager
    def _request(
        self, operation: str, items: dict[str, list[Any]], key: Callable[[Any], str]
    ) -> Iterator[None]:
        index = len(self.sent)
        self.sent.append(Sent(operation, [key(item) for table in items.values() for item in table]))
        error = self._fault(operation, index) if self._fault is not None else None
        if error is not None:
            raise error
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def _split(
        self, items: dict[str, list[Any]], key: Callable[[Any], str], stuck: frozenset[str]
    ) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
        """Per table, what to send and what to hand back as unprocessed."""
        sent, held = {}, {}
        for table, entries in items.items():
            chosen = set(self._random.sample(range(len(entries)), int(len(entries) * self._share)))
            hold = [i in chosen or key(entry) in stuck for i, entry in enumerate(entries)]
            if kept := [entry for entry, h in zip(entries, hold, strict=True) if not h]:
                sent[table] = kept
            if back := [entry for entry, h in zip(entries, hold, strict=True) if h]:
                held[table] = back
        return sent, held


def _key(key: dict[str, Any]) -> str:
    """The item's key: ``modifiedValue``, and the key table's ``keyId`` after it."""
    if "keyId" in key:
        return f"{key['modifiedValue']['S']}#{key['keyId']['S']}"
    return str(key["modifiedValue"]["S"])


def _written_key(request: dict[str, Any]) -> str:
    if "PutRequest" in request:
        return _key(request["PutRequest"]["Item"])
    return _key(request["DeleteRequest"]["Key"])


def storage_on(
    client: DynamoDBClient | FaultyClient,
    table_name: str,
    *,
    policy: BatchPolicy = FAST_RETRIES,
    **options: Any,
) -> DynamoDBStorage:
    """A ``DynamoDBStorage`` on the table, through the wrapper if one is given."""
    if isinstance(client, FaultyClient):
        client = client.as_client()
    return DynamoDBStorage(client, table_name, policy=policy, **options)
