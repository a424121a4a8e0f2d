"""Opening DynamoDB for a server: its one client, and both of its tables ready to serve.

The entry point opens the client once (``async with open_client(...)``), hands it to the
stores, and polls ``ensure_tables`` until it returns: the stores never open, close or
create anything themselves.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import aioboto3
from aiobotocore.config import AioConfig

from storage.dynamodb.audit_table import LAYOUT as AUDIT_LAYOUT
from storage.dynamodb.errors import TablesMissing
from storage.dynamodb.keys import LAYOUT as KEY_LAYOUT
from storage.dynamodb.records import LAYOUT as RECORDS_LAYOUT
from storage.dynamodb.tables import Layout, create, verify

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


def open_client(
    *, endpoint_url: str | None = None, region: str | None = None
) -> AbstractAsyncContextManager[DynamoDBClient]:
    """The server's one DynamoDB client; credentials come from the AWS chain. The SDK
    retries little: the batch layer retries with backoff until its deadline, and the
    readiness poll until storage answers.

    Entering it raises botocore's own errors (``NoRegionError`` and the like): they name
    settings, so the entry point, which knows its flags, explains them.
    """
    return aioboto3.Session().client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=region,
        config=AioConfig(
            connect_timeout=3,
            read_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 2},
            max_pool_connections=64,  # each bulk call keeps up to 8 requests in flight
        ),
    )


async def ensure_tables(
    client: DynamoDBClient,
    *,
    table: str,
    audit_table: str,
    key_table: str | None = None,
    create_missing: bool = False,
) -> None:
    """Return once the records ``table``, the ``audit_table`` and the ``key_table`` (when
    records are sealed) are all ready to serve. The records table is created with its blind
    index; an existing one without it serves all the same.

    A missing table is created first if ``create_missing`` (development: production tables
    belong to infrastructure code); otherwise ``TablesMissing`` names every missing one.
    Any other problem raises the ``StorageError`` the stores' ``check`` would.
    """
    missing: list[str] = []
    tables = [(table, RECORDS_LAYOUT), (audit_table, AUDIT_LAYOUT)]
    if key_table is not None:
        tables.append((key_table, KEY_LAYOUT))
    for name, layout in tables:
        if not await _ready(client, name, layout, create_missing=create_missing):
            missing.append(name)
    if missing:
        raise TablesMissing(missing)


async def _ready(
    client: DynamoDBClient, name: str, layout: Layout, *, create_missing: bool
) -> bool:
    try:
        await verify(client, name, layout)
    except TablesMissing:
        if not create_missing:
            return False
        await create(client, name, layout)
        await verify(client, name, layout)
    return True
