"""The DynamoDB table itself: checking that it is usable, and creating it for development."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from storage.dynamodb_errors import map_dynamodb_errors
from storage.dynamodb_items import KEY
from storage.errors import StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

_KEY_SCHEMA = [{"AttributeName": KEY, "KeyType": "HASH"}]
_USABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})


async def verify_table(client: DynamoDBClient, table_name: str) -> None:
    """Raise unless the table exists, is keyed by a single string ``modifiedValue`` hash
    key, and can serve requests."""
    with map_dynamodb_errors(table_name):
        table = (await client.describe_table(TableName=table_name))["Table"]
    key_types = {
        attribute["AttributeName"]: attribute["AttributeType"]
        for attribute in table.get("AttributeDefinitions", [])
    }
    if table.get("KeySchema") != _KEY_SCHEMA or key_types.get(KEY) != "S":
        raise StorageMisconfigured(
            f"DynamoDB table {table_name!r} must have a single string HASH key {KEY!r} "
            "and no sort key"
        )
    status = table.get("TableStatus", "")
    if status not in _USABLE_STATUSES:
        raise StorageUnavailable(f"DynamoDB table {table_name!r} is {status}, not ACTIVE")


async def create_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the table on demand (PAY_PER_REQUEST) unless it exists, then wait until it is
    ACTIVE. For development: production tables belong to infrastructure code."""
    with map_dynamodb_errors(table_name):
        try:
            await client.create_table(
                TableName=table_name,
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            # Already there, or being created by someone else: wait for it all the same.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        await client.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max_polls}
        )
