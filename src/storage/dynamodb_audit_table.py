"""The DynamoDB audit table itself: checking that it is usable, creating it for development,
and the one error that means something else for it than for the records table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from storage.dynamodb_audit_items import PK, SK
from storage.dynamodb_errors import map_dynamodb_errors
from storage.errors import StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

_KEY_SCHEMA = [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}]
_USABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})


@contextlib.contextmanager
def map_audit_errors(table_name: str) -> Iterator[None]:
    """``map_dynamodb_errors``, but an invalid request is explained by the audit table's
    key schema (or an item over DynamoDB's 400 KB), not by the records table's."""
    with map_dynamodb_errors(table_name):
        try:
            yield
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            raise StorageMisconfigured(
                f"DynamoDB rejected a request to audit table {table_name!r} as invalid: check "
                f"that its keys are a string HASH key {PK!r} and a string RANGE key {SK!r} "
                "(or an audit event is over DynamoDB's 400 KB item size)"
            ) from exc


async def verify_audit_table(client: DynamoDBClient, table_name: str) -> None:
    """Raise unless the table exists, is keyed by string ``pk`` and ``sk``, and can serve."""
    with map_audit_errors(table_name):
        table = (await client.describe_table(TableName=table_name))["Table"]
    key_types = {
        attribute["AttributeName"]: attribute["AttributeType"]
        for attribute in table.get("AttributeDefinitions", [])
    }
    if table.get("KeySchema") != _KEY_SCHEMA or {key_types.get(PK), key_types.get(SK)} != {"S"}:
        raise StorageMisconfigured(
            f"DynamoDB audit table {table_name!r} must have a string HASH key {PK!r} "
            f"and a string RANGE key {SK!r}"
        )
    status = table.get("TableStatus", "")
    if status not in _USABLE_STATUSES:
        raise StorageUnavailable(f"DynamoDB audit table {table_name!r} is {status}, not ACTIVE")


async def create_audit_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the audit table on demand (PAY_PER_REQUEST) unless it exists, then wait until
    it is ACTIVE. For development: production tables belong to infrastructure code."""
    with map_audit_errors(table_name):
        try:
            await client.create_table(
                TableName=table_name,
                KeySchema=[
                    {"AttributeName": PK, "KeyType": "HASH"},
                    {"AttributeName": SK, "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": PK, "AttributeType": "S"},
                    {"AttributeName": SK, "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            # Already there, or being created by someone else: wait for it all the same.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        await client.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max_polls}
        )
