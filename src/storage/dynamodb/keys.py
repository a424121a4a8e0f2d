"""The key table: per-record key material, so that erasure reaches backups.

A sealed original rests split in two XOR shares: the records table holds
``ciphertext XOR pad``, the key table holds ``pad``, a one-time pad of random bytes as long
as the ciphertext. Either share alone is uniformly random: the records table, its
point-in-time backups and any export of it reveal nothing of a value, keyring or not, once
the record's pad is gone from the key table and from the key table's own backups. Deleting
a record deletes its pad first; so no decryptable copy outlives the key table's recovery
window, which can be short (README, "Erasure") while the records table keeps 35 days.

    key table item              attributes
    modifiedValue (HASH, S)     the record's key
    keyId (RANGE, S)            24 hex digits, new with every write; the record names it
    pad (B)                     the pad
    expiresAt (N)               its record's expiry (epoch seconds; the table's TTL
                                attribute), only under a retention policy

Each write makes a new pad under a new ``keyId`` and the record names the one it was split
with, so two writers of one key can never pair a record with the other's pad; the pad a
record no longer names is deleted after the write. Deletion queries the key's whole
partition, so a pad left behind by a failed or concurrent write is erased too.

The keyring's state (the KMS blind index key, wrapped) lives here as well, under
``modifiedValue`` ``#keyring`` and a ``keyId`` ``entry:<name>``, which no pad's id can be.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from storage.dynamodb.batch import MAX_GET_BATCH, MAX_WRITE_BATCH, BatchCall
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.items import EXPIRES_AT, KEY, KEY_ID, encode_expiry, xor
from storage.dynamodb.tables import Layout
from storage.records import ItemFailed

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        QueryInputTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

    from storage.dynamodb.items import Item

PAD = "pad"
VALUE = "value"
ENTRIES = "#keyring"
ENTRY_PREFIX = "entry:"
LAYOUT = Layout("key table", KEY, KEY_ID, ttl=EXPIRES_AT)
#: Queries in flight at once when a delete looks for every pad of its keys.
QUERY_CONCURRENCY = 8


def new_key_id() -> str:
    return secrets.token_hex(12)


def split(ciphertext: bytes) -> tuple[bytes, bytes]:
    """(the records table's share, the pad)."""
    pad = secrets.token_bytes(len(ciphertext))
    return xor(ciphertext, pad), pad


def _id(key: str, key_id: str) -> Item:
    return {KEY: {"S": key}, KEY_ID: {"S": key_id}}


def _identity(request: WriteRequestOutputTypeDef) -> tuple[str, str]:
    item = (
        request["PutRequest"]["Item"]
        if "PutRequest" in request
        else request["DeleteRequest"]["Key"]
    )
    return item[KEY]["S"], item[KEY_ID]["S"]


class KeyTable:
    """Pads in a DynamoDB table with the string keys ``modifiedValue`` and ``keyId``.
    Requests go through the record store's ``BatchCall``, sharing its deadline."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.name = table_name

    async def put(
        self,
        call: BatchCall,
        pads: Mapping[str, tuple[str, bytes]],
        expiries: Mapping[str, datetime | None] | None = None,
    ) -> dict[str, ItemFailed]:
        """Write each record key's (keyId, pad), expiring with its record as ``expiries``
        says; answer the record keys that failed."""
        expiries = expiries or {}
        requests: dict[str, tuple[tuple[str, str], WriteRequestTypeDef]] = {}
        for key, (key_id, pad) in pads.items():
            item: Item = {**_id(key, key_id), PAD: {"B": pad}}
            expires_at = expiries.get(key)
            if expires_at is not None:
                item[EXPIRES_AT] = encode_expiry(expires_at)
            requests[key] = ((key, key_id), {"PutRequest": {"Item": item}})
        return await self._write(call, requests)

    async def remove(
        self, call: BatchCall, pads: Iterable[tuple[str, str]]
    ) -> dict[str, ItemFailed]:
        """Delete pads by (record key, keyId); answer the record keys with one not deleted."""
        requests: dict[str, tuple[tuple[str, str], WriteRequestTypeDef]] = {
            str(i): ((key, key_id), {"DeleteRequest": {"Key": _id(key, key_id)}})
            for i, (key, key_id) in enumerate(pads)
        }
        failed = await self._write(call, requests)
        return {requests[i][0][0]: failure for i, failure in failed.items()}

    async def _write(
        self, call: BatchCall, requests: dict[str, tuple[tuple[str, str], WriteRequestTypeDef]]
    ) -> dict[str, ItemFailed]:
        """Send each id's request (with its item's identity); answer the ids still undone
        at the deadline."""
        ids = {identity: id_ for id_, (identity, _) in requests.items()}

        async def send(batch: list[str]) -> list[str]:
            with map_dynamodb_errors(self.name):
                response = await self._client.batch_write_item(
                    RequestItems={self.name: [requests[i][1] for i in batch]}
                )
            left = response.get("UnprocessedItems", {}).get(self.name, [])
            return [ids[_identity(request)] for request in left]

        failed = await call.send_in_batches(list(requests), MAX_WRITE_BATCH, send)
        return {id_: ItemFailed(f"its key material: {f.reason}") for id_, f in failed.items()}

    async def get(
        self, call: BatchCall, wanted: Mapping[str, str]
    ) -> tuple[dict[str, bytes], dict[str, ItemFailed]]:
        """The pads of ``wanted`` (record key -> keyId), strongly consistent: found by
        record key, and the record keys that failed; a key in neither has no pad."""
        found: dict[str, bytes] = {}

        async def send(keys: list[str]) -> list[str]:
            with map_dynamodb_errors(self.name):
                response = await self._client.batch_get_item(
                    RequestItems={
                        self.name: {
                            "Keys": [_id(key, wanted[key]) for key in keys],
                            "ConsistentRead": True,
                        }
                    }
                )
            for item in response.get("Responses", {}).get(self.name, []):
                if item[KEY_ID]["S"] == wanted.get(item[KEY]["S"]) and "B" in item.get(PAD, {}):
                    found[item[KEY]["S"]] = item[PAD]["B"]
            left = response.get("UnprocessedKeys", {}).get(self.name, {"Keys": []})
            return [key[KEY]["S"] for key in left["Keys"]]

        failed = await call.send_in_batches(list(wanted), MAX_GET_BATCH, send)
        return found, {
            key: ItemFailed(f"its key material: {f.reason}") for key, f in failed.items()
        }

    async def every_pad(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        """(record key, keyId) of every pad stored for ``keys``: one Query per key."""
        limit = asyncio.Semaphore(QUERY_CONCURRENCY)

        async def pads_of(key: str) -> list[tuple[str, str]]:
            request: QueryInputTypeDef = {
                "TableName": self.name,
                "KeyConditionExpression": "#k = :k",
                "ExpressionAttributeNames": {"#k": KEY, "#i": KEY_ID},
                "ExpressionAttributeValues": {":k": {"S": key}},
                "ProjectionExpression": "#i",
                "ConsistentRead": True,
            }
            ids: list[tuple[str, str]] = []
            async with limit:
                while True:
                    with map_dynamodb_errors(self.name):
                        response = await self._client.query(**request)
                    ids += [
                        (key, item[KEY_ID]["S"])
                        for item in response.get("Items", [])
                        if not item[KEY_ID]["S"].startswith(ENTRY_PREFIX)
                    ]
                    if "LastEvaluatedKey" not in response:
                        return ids
                    request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

        found = await asyncio.gather(*(pads_of(key) for key in dict.fromkeys(keys)))
        return [pad for pads in found for pad in pads]

    async def load_entry(self, name: str) -> bytes | None:
        with map_dynamodb_errors(self.name):
            response = await self._client.get_item(
                TableName=self.name, Key=_id(ENTRIES, ENTRY_PREFIX + name), ConsistentRead=True
            )
        item = response.get("Item")
        return item[VALUE]["B"] if item is not None and "B" in item.get(VALUE, {}) else None

    async def store_entry(self, name: str, value: bytes) -> bytes:
        with map_dynamodb_errors(self.name):
            try:
                await self._client.put_item(
                    TableName=self.name,
                    Item={**_id(ENTRIES, ENTRY_PREFIX + name), VALUE: {"B": value}},
                    ConditionExpression="attribute_not_exists(#k)",
                    ExpressionAttributeNames={"#k": KEY},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        stored = await self.load_entry(name)
        if stored is None:  # pragma: no cover - deleted between the two requests
            return value
        return stored

    async def replace_entry(self, name: str, value: bytes) -> None:
        with map_dynamodb_errors(self.name):
            await self._client.put_item(
                TableName=self.name, Item={**_id(ENTRIES, ENTRY_PREFIX + name), VALUE: {"B": value}}
            )
