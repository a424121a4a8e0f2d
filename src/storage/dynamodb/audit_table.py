"""The DynamoDB audit table itself: checking that it is usable, creating it for development,
and the one error that means something else for it than for the records table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from storage.dynamodb.audit_keys import PK, SK
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.tables import Layout, create, verify
from storage.errors import StorageMisconfigured

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


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


LAYOUT = Layout("audit table", PK, SK, errors=map_audit_errors)


async def verify_audit_table(client: DynamoDBClient, table_name: str) -> None:
    """Raise unless the table exists, is keyed by string ``pk`` and ``sk``, and can serve."""
    await verify(client, table_name, LAYOUT)


async def create_audit_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the audit table on demand (PAY_PER_REQUEST) unless it exists, then wait until
    it is ACTIVE. For development: production tables belong to infrastructure code."""
    await create(client, table_name, LAYOUT, poll_seconds=poll_seconds, max_polls=max_polls)
