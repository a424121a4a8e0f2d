"""DynamoDB (and KMS) for tests: real aioboto3 clients of the session's moto server, fresh
tables.

aioboto3 cannot use moto's in-process mock, so moto runs as a server on a free port of
127.0.0.1 and clients reach it by ``endpoint_url`` with fake credentials.

With the session's ``moto_endpoint`` fixture (tests/conftest.py)::

    from tests.dynamodb_fixtures import dynamodb_client, fresh_table

    async with dynamodb_client(moto_endpoint) as client, fresh_table(client) as table_name:
        ...

``tests`` has no ``__init__.py``; the import works because pytest's importlib mode (pytest
>= 8.1) names modules after their path from the rootdir and imports ``tests`` as a
namespace package. It needs no ``sys.path`` change and works however pytest is started.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig

from storage.dynamodb import create_key_table, create_table

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_kms.client import KMSClient

REGION = "us-east-1"


@contextlib.asynccontextmanager
async def dynamodb_client(endpoint_url: str, **config: Any) -> AsyncIterator[DynamoDBClient]:
    """A real aioboto3 DynamoDB client for ``endpoint_url``; ``config`` goes to ``AioConfig``
    (e.g. ``connect_timeout=0.5, retries={"total_max_attempts": 1}``)."""
    async with _session().client(
        "dynamodb", endpoint_url=endpoint_url, config=AioConfig(**config)
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def kms_client(endpoint_url: str) -> AsyncIterator[KMSClient]:
    """A real aioboto3 KMS client of the same moto server (moto serves every service on
    one endpoint)."""
    async with _session().client("kms", endpoint_url=endpoint_url) as client:
        yield client


@functools.cache
def _session() -> aioboto3.Session:
    """One session for all tests: it holds no connection, and loading botocore's service
    models once instead of per test saves a good share of the suite's time."""
    return aioboto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def fresh_table_name() -> str:
    return f"piinguin-test-{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def fresh_table(client: DynamoDBClient) -> AsyncIterator[str]:
    """A new, empty Piinguin table, made with ``storage.dynamodb.create_table`` and
    deleted afterwards; yields its name."""
    table_name = fresh_table_name()
    await create_table(client, table_name)
    try:
        yield table_name
    finally:
        await client.delete_table(TableName=table_name)


@contextlib.asynccontextmanager
async def fresh_key_table(client: DynamoDBClient) -> AsyncIterator[str]:
    """A new, empty key table (``storage.dynamodb.create_key_table``), deleted afterwards."""
    table_name = fresh_table_name() + "-keys"
    await create_key_table(client, table_name)
    try:
        yield table_name
    finally:
        await client.delete_table(TableName=table_name)
