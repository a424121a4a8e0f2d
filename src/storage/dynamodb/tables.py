"""DynamoDB tables themselves: checking that one is usable, and creating it for development.

Both of our tables go through here; each is described by its ``Layout`` (string keys only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from storage.dynamodb.errors import map_dynamodb_errors
from storage.errors import StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

_USABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})


@dataclass(frozen=True, slots=True)
class Layout:
    kind: str  # "table" or "audit table", for messages
    hash_key: str
    range_key: str | None = None
    #: How errors of requests to this table are translated (``map_dynamodb_errors`` or a
    #: table-specific refinement of it).
    errors: Callable[[str], contextlib.AbstractContextManager[None]] = map_dynamodb_errors
    #: A global secondary index that ``create`` makes with the table: (name, string hash
    #: key), projecting the table's keys only. Not checked by ``verify``: a table without it
    #: serves, and an operator command adds it.
    index: tuple[str, str] | None = None
    #: The number attribute that ``create`` turns the table's TTL on for, if any. Not
    #: checked by ``verify``: without TTL, expired items stay (and read as not stored).
    ttl: str | None = None

    @property
    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key is not None:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return schema

    def describe(self) -> str:
        if self.range_key is None:
            return f"a single string HASH key {self.hash_key!r} and no sort key"
        return f"a string HASH key {self.hash_key!r} and a string RANGE key {self.range_key!r}"


async def verify(client: DynamoDBClient, table_name: str, layout: Layout) -> None:
    """Raise unless the table exists, has ``layout``'s string keys, and can serve."""
    with layout.errors(table_name):
        table = (await client.describe_table(TableName=table_name))["Table"]
    key_types = {
        attribute["AttributeName"]: attribute["AttributeType"]
        for attribute in table.get("AttributeDefinitions", [])
    }
    keys = [entry["AttributeName"] for entry in layout.key_schema]
    if table.get("KeySchema") != layout.key_schema or any(key_types.get(k) != "S" for k in keys):
        raise StorageMisconfigured(
            f"DynamoDB {layout.kind} {table_name!r} must have {layout.describe()}"
        )
    status = table.get("TableStatus", "")
    if status not in _USABLE_STATUSES:
        raise StorageUnavailable(f"DynamoDB {layout.kind} {table_name!r} is {status}, not ACTIVE")


async def create(
    client: DynamoDBClient,
    table_name: str,
    layout: Layout,
    *,
    poll_seconds: int = 1,
    max_polls: int = 120,
) -> None:
    """Create the table on demand (PAY_PER_REQUEST) unless it exists, then wait until it is
    ACTIVE. For development: production tables belong to infrastructure code."""
    key_schema: Any = layout.key_schema
    attributes: Any = [
        {"AttributeName": entry["AttributeName"], "AttributeType": "S"} for entry in key_schema
    ]
    indexes: Any = {}
    if layout.index is not None:
        name, attribute = layout.index
        attributes.append({"AttributeName": attribute, "AttributeType": "S"})
        indexes["GlobalSecondaryIndexes"] = [index_definition(name, attribute)]
    with layout.errors(table_name):
        try:
            await client.create_table(
                TableName=table_name,
                KeySchema=key_schema,
                AttributeDefinitions=attributes,
                BillingMode="PAY_PER_REQUEST",
                **indexes,
            )
        except ClientError as exc:
            # Already there, or being created by someone else: wait for it all the same.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        await client.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max_polls}
        )
    if layout.ttl is not None:
        await enable_ttl(client, table_name, layout)


def index_definition(name: str, attribute: str) -> dict[str, Any]:
    """A global secondary index on the string ``attribute``, holding keys only."""
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }


async def add_index(
    client: DynamoDBClient,
    table_name: str,
    layout: Layout,
    *,
    poll_seconds: float = 5,
    max_polls: int = 720,
) -> bool:
    """Add ``layout``'s global secondary index to an existing table unless it has it, then
    wait until it is ACTIVE (DynamoDB fills it from the items already there). Answers
    whether it was added now."""
    if layout.index is None:
        raise ValueError(f"{layout.kind} has no index")
    name, attribute = layout.index
    with layout.errors(table_name):
        table = (await client.describe_table(TableName=table_name))["Table"]
        present = any(i["IndexName"] == name for i in table.get("GlobalSecondaryIndexes", []))
        if not present:
            update: Any = {
                "TableName": table_name,
                "AttributeDefinitions": [{"AttributeName": attribute, "AttributeType": "S"}],
                "GlobalSecondaryIndexUpdates": [{"Create": index_definition(name, attribute)}],
            }
            await client.update_table(**update)
        for _ in range(max_polls):
            table = (await client.describe_table(TableName=table_name))["Table"]
            statuses = [
                i.get("IndexStatus", "")
                for i in table.get("GlobalSecondaryIndexes", [])
                if i["IndexName"] == name
            ]
            if statuses == ["ACTIVE"]:
                return not present
            await asyncio.sleep(poll_seconds)
    raise StorageUnavailable(
        f"the index {name!r} of DynamoDB {layout.kind} {table_name!r} did not become ACTIVE"
    )


async def enable_ttl(client: DynamoDBClient, table_name: str, layout: Layout) -> None:
    """Turn on the table's TTL on ``layout.ttl`` unless it is on (DynamoDB refuses to turn
    it on twice)."""
    if layout.ttl is None:
        raise ValueError(f"{layout.kind} has no TTL attribute")
    with layout.errors(table_name):
        described = await client.describe_time_to_live(TableName=table_name)
        current = described.get("TimeToLiveDescription", {})
        if current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
            return
        await client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": layout.ttl},
        )
