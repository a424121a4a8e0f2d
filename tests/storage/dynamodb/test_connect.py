"""Opening DynamoDB: the server's client, and ``ensure_tables`` against moto."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from storage import StorageMisconfigured, StorageUnavailable
from storage.dynamodb import (
    DynamoDBAuditStore,
    DynamoDBStorage,
    TablesMissing,
    create_table,
    ensure_tables,
    open_client,
)
from tests.dynamodb_fixtures import REGION, dynamodb_client, fresh_table_name

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


@pytest.fixture
async def names(dynamodb: DynamoDBClient) -> AsyncIterator[tuple[str, str]]:
    """Names for a records table and an audit table, neither there yet; whatever a test
    made of them is deleted afterwards."""
    made = (fresh_table_name(), fresh_table_name())
    yield made
    existing = (await dynamodb.list_tables())["TableNames"]
    for name in made:
        if name in existing:
            await dynamodb.delete_table(TableName=name)


async def test_missing_tables_are_named_all_at_once(
    dynamodb: DynamoDBClient, names: tuple[str, str]
) -> None:
    table, audit_table = names

    with pytest.raises(TablesMissing) as caught:
        await ensure_tables(dynamodb, table=table, audit_table=audit_table)

    assert isinstance(caught.value, StorageMisconfigured)
    assert caught.value.tables == (table, audit_table)
    assert str(caught.value) == (
        f"DynamoDB tables {table!r}, {audit_table!r} do not exist in this account and region"
    )
    assert not set(names) & set((await dynamodb.list_tables())["TableNames"])


async def test_only_the_missing_table_is_named(
    dynamodb: DynamoDBClient, names: tuple[str, str]
) -> None:
    table, audit_table = names
    await create_table(dynamodb, table)

    with pytest.raises(TablesMissing, match=f"table {audit_table!r} does not exist") as caught:
        await ensure_tables(dynamodb, table=table, audit_table=audit_table)

    assert caught.value.tables == (audit_table,)


async def test_create_missing_makes_both_tables_ready_for_their_stores(
    dynamodb: DynamoDBClient, names: tuple[str, str]
) -> None:
    table, audit_table = names

    await ensure_tables(dynamodb, table=table, audit_table=audit_table, create_missing=True)
    await ensure_tables(dynamodb, table=table, audit_table=audit_table, create_missing=True)
    await ensure_tables(dynamodb, table=table, audit_table=audit_table)

    await DynamoDBStorage(dynamodb, table).check()
    await DynamoDBAuditStore(dynamodb, audit_table).check()


async def test_create_missing_turns_on_the_records_table_s_ttl_on_expires_at(
    dynamodb: DynamoDBClient, names: tuple[str, str]
) -> None:
    table, audit_table = names

    await ensure_tables(dynamodb, table=table, audit_table=audit_table, create_missing=True)

    described = await dynamodb.describe_time_to_live(TableName=table)
    assert described["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }
    audit = await dynamodb.describe_time_to_live(TableName=audit_table)
    assert audit["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


async def test_a_table_of_the_wrong_layout_is_not_replaced_but_refused(
    dynamodb: DynamoDBClient, names: tuple[str, str]
) -> None:
    table, audit_table = names
    await create_table(dynamodb, audit_table)  # a records table where the audit table goes

    with pytest.raises(StorageMisconfigured, match="'pk' and a string RANGE key 'sk'") as caught:
        await ensure_tables(dynamodb, table=table, audit_table=audit_table, create_missing=True)

    assert not isinstance(caught.value, TablesMissing)


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_unreachable_dynamodb_is_unavailable_not_missing(closed_port: int) -> None:
    async with dynamodb_client(
        f"http://127.0.0.1:{closed_port}", connect_timeout=0.5, retries={"total_max_attempts": 1}
    ) as client:
        with pytest.raises(StorageUnavailable, match="could not be reached"):
            await ensure_tables(client, table="t", audit_table="a", create_missing=True)


async def test_the_server_s_client_uses_the_aws_chain_and_retries_little(
    moto_endpoint: str, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The chain sees these credentials and no file or profile of this machine.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    table, audit_table = names

    async with open_client(endpoint_url=moto_endpoint, region=REGION) as client:
        await ensure_tables(client, table=table, audit_table=audit_table, create_missing=True)
        # botocore sets these on its Config at run time; its stubs don't declare them.
        config: Any = client.meta.config

    assert client.meta.region_name == REGION
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.max_pool_connections == 64
