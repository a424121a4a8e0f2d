"""End to end: ``serve()`` on ``--storage dynamodb`` against moto, driven by the client.

Every RPC goes through ``PiinguinClient`` over a real socket; the tables are checked with a
separate aioboto3 client, as another tool reading them would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from grpclib.client import Channel

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord, RecordNotFound
from piinguin.options import OptionError
from piinguin.server.config import ServerConfig
from piinguin.server.main import open_backends
from piinguin.v1 import ListAuditEventsRequest, PiinguinStub
from storage.audit import AuditQuery
from storage.dynamodb import (
    DynamoDBAuditStore,
    DynamoDBStorage,
    TablesMissing,
    create_audit_table,
    create_key_table,
    create_table,
)
from storage.encrypted import EncryptedStorage
from tests.dynamodb_fixtures import REGION, dynamodb_client, fresh_table_name

from .conftest import ServerStarter, health, wait_for_health, wait_for_log

pytestmark = pytest.mark.socket

SECRET = "john@acme.com"
PURPOSE = "support ticket 42"


async def test_every_rpc_works_on_dynamodb_and_reads_are_audited_there(
    dynamodb_server: ServerStarter, moto_endpoint: str, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")
        config = served.config
        async with dynamodb_client(moto_endpoint) as raw:
            # An item as the original Scala piinguin wrote it: key and original value only.
            await raw.put_item(
                TableName=config.table,
                Item={"modifiedValue": {"S": "legacy"}, "originalValue": {"S": "old@acme.com"}},
            )
            async with PiinguinClient(served.target) as client:
                await client.create_record(
                    PiiRecord(modified_value="k1", original_value=SECRET, field_name="user_id")
                )
                single = await client.read_record("k1", basis=LawfulBasis.CONSENT, purpose=PURPOSE)
                legacy = await client.read_record(
                    "legacy", basis=LawfulBasis.LEGAL_OBLIGATION, purpose=PURPOSE
                )
                created = await client.create_records(
                    [
                        PiiRecord(modified_value=f"b{i}", original_value=f"b{i}@acme.com")
                        for i in range(3)
                    ]
                )
                read = await client.read_records(
                    ["b0", "missing", "b2"], basis=LawfulBasis.CONTRACT, purpose=PURPOSE
                )
                await client.delete_record("k1")
                deleted = await client.delete_records(["b0", "b1", "never-stored"])
                with pytest.raises(RecordNotFound):
                    await client.read_record("k1", basis=LawfulBasis.CONSENT, purpose=PURPOSE)

            stored = await raw.get_item(TableName=config.table, Key={"modifiedValue": {"S": "b2"}})
            gone = await raw.get_item(TableName=config.table, Key={"modifiedValue": {"S": "b0"}})
            audit = DynamoDBAuditStore(raw, config.audit_table)
            legacy_history = await audit.query(AuditQuery(modified_value="legacy"))
            recent = await audit.query(AuditQuery(since=datetime.now(UTC) - timedelta(hours=1)))

    assert (single.original_value, single.field_name) == (SECRET, "user_id")
    assert single.created_at is not None
    assert (legacy.original_value, legacy.field_name, legacy.created_at) == (
        "old@acme.com",
        "",
        None,
    )
    assert [r.ok for r in created] == [True, True, True]
    assert [r.record.original_value if r.record else None for r in read] == [
        "b0@acme.com",
        None,
        "b2@acme.com",
    ]
    assert [r.ok for r in deleted] == [True, True, True]
    assert "originalValue" not in stored["Item"]
    assert stored["Item"]["keyVersion"]["S"].startswith("local:")
    assert "Item" not in gone
    # The legacy item's read landed in the audit table, with its basis and purpose.
    [event] = legacy_history.events
    assert (event.operation, event.lawful_basis, event.purpose) == ("read", 3, PURPOSE)
    assert [(k.modified_value, k.code) for k in event.keys] == [("legacy", 0)]
    assert {e.operation for e in recent.events} >= {"read", "delete"}
    assert SECRET not in log_output()


async def test_list_audit_events_answers_from_the_dynamodb_audit_table(
    dynamodb_server: ServerStarter,
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")
        async with PiinguinClient(served.target) as client:
            await client.create_record(PiiRecord(modified_value="k", original_value=SECRET))
            for purpose in ("first", "second", "third"):
                await client.read_record("k", basis=LawfulBasis.CONSENT, purpose=purpose)
        channel = Channel("127.0.0.1", served.port)
        try:
            stub = PiinguinStub(channel)
            first = await stub.list_audit_events(
                ListAuditEventsRequest(modified_value="k", page_size=2)
            )
            rest = await stub.list_audit_events(
                ListAuditEventsRequest(
                    modified_value="k", page_size=2, page_token=first.next_page_token
                )
            )
        finally:
            channel.close()

    assert [(e.operation, e.purpose) for e in first.events] == [
        ("read", "first"),
        ("read", "second"),
    ]
    # Reading the audit log is audited too: the first page's call is the last event.
    assert [(e.operation, e.purpose) for e in rest.events] == [("read", "third"), ("audit", "")]
    assert rest.next_page_token == ""
    assert {e.principal for e in [*first.events, *rest.events]} == {"anonymous"}


async def test_missing_tables_keep_it_not_serving_with_a_hint_until_they_exist(
    dynamodb_server: ServerStarter, moto_endpoint: str, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server() as served:
        config = served.config
        error = (await wait_for_log(log_output, "storage_not_ready"))["error"]
        assert await health(served) == "NOT_SERVING"
        assert error == (
            f"DynamoDB tables {config.table!r}, {config.audit_table!r}, {config.key_table!r} "
            "do not exist in this account and region: create them as the README's DynamoDB "
            "section shows, or start with --create-table (development only)"
        )
        assert "ResourceNotFound" not in log_output()
        assert "Requested resource not found" not in log_output()  # moto's (and AWS's) text

        async with dynamodb_client(moto_endpoint) as raw:
            await create_table(raw, config.table)
            await create_audit_table(raw, config.audit_table)
            await create_key_table(raw, config.key_table)
        await wait_for_health(served, "SERVING")

        async with PiinguinClient(served.target) as client:
            await client.create_record(PiiRecord(modified_value="k", original_value=SECRET))


async def test_create_table_makes_every_table_with_its_layout(
    dynamodb_server: ServerStarter, moto_endpoint: str
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")
        async with dynamodb_client(moto_endpoint) as raw:
            records = (await raw.describe_table(TableName=served.config.table))["Table"]
            audit = (await raw.describe_table(TableName=served.config.audit_table))["Table"]
            keys = (await raw.describe_table(TableName=served.config.key_table))["Table"]

    assert records["KeySchema"] == [{"AttributeName": "modifiedValue", "KeyType": "HASH"}]
    [index] = records["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"], index["Projection"]) == (
        "blindIndex",
        [{"AttributeName": "blindIndex", "KeyType": "HASH"}],
        {"ProjectionType": "KEYS_ONLY"},
    )
    assert audit["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert keys["KeySchema"] == [
        {"AttributeName": "modifiedValue", "KeyType": "HASH"},
        {"AttributeName": "keyId", "KeyType": "RANGE"},
    ]
    for table in (records, audit, keys):
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


async def test_no_region_anywhere_stops_the_server_naming_the_flag(
    dynamodb_server: ServerStarter,
) -> None:
    with pytest.raises(OptionError, match="--region: no AWS region"):
        async with dynamodb_server(region=None):
            pass


@pytest.mark.parametrize("sealed", [True, False], ids=["keyring", "insecure-no-encryption"])
async def test_the_entry_point_hands_the_server_the_dynamodb_stores_themselves(
    moto_endpoint: str, aws_chain: None, key_file: Path, sealed: bool
) -> None:
    config = ServerConfig(
        port=0,
        storage="dynamodb",
        insecure_no_auth=True,
        table=fresh_table_name(),
        audit_table=fresh_table_name(),
        dynamodb_endpoint=moto_endpoint,
        region=REGION,
        keyring=f"local:{key_file}" if sealed else None,
        insecure_no_encryption=not sealed,
    )
    async with open_backends(config) as backends:
        # No proxy in between but encryption: what the server calls is the store.
        records = backends.records
        if sealed:
            assert type(records) is EncryptedStorage
            records = records.backend
        assert type(records) is DynamoDBStorage
        assert type(backends.audit) is DynamoDBAuditStore
        with pytest.raises(TablesMissing):
            await backends.prepare()
