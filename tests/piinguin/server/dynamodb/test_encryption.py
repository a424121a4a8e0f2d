"""Encryption at rest through the running server on DynamoDB (moto): what rests in the
tables, a tampered item, the insecure flag, and a keyring that cannot be used."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from grpclib.const import Status

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.client.errors import PiinguinError
from piinguin.options import OptionError
from storage.crypto import NATIVE
from tests.dynamodb_fixtures import dynamodb_client, kms_client
from tests.storage.leaks import found_values

from .conftest import ServerStarter, health, wait_for_health, wait_for_log

pytestmark = pytest.mark.socket

PURPOSE = "support ticket 42"
VALUES = [f"customer.{n}@acme.com" for n in range(30)] + ["203.0.113.7", "2001:db8::42"]


async def scan(raw: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        response = await raw.scan(**request)
        items += response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


async def test_no_original_rests_in_any_table_in_any_encoding(
    dynamodb_server: ServerStarter, moto_endpoint: str, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")
        async with PiinguinClient(served.target) as client:
            records = [
                PiiRecord(modified_value=f"k{n}", original_value=v, field_name="user_id")
                for n, v in enumerate(VALUES)
            ]
            assert all(r.ok for r in await client.create_records(records))
            read = await client.read_records(
                [r.modified_value for r in records], basis=LawfulBasis.CONSENT, purpose=PURPOSE
            )
        config = served.config
        async with dynamodb_client(moto_endpoint) as raw:
            tables = [config.table, config.key_table, config.audit_table]
            everything = [item for table in tables for item in await scan(raw, table)]

    assert [r.record.original_value for r in read if r.record] == VALUES
    assert found_values(VALUES, everything) == []
    assert found_values(VALUES, log_output()) == []


async def test_a_tampered_item_is_refused_per_item_with_data_loss(
    dynamodb_server: ServerStarter, moto_endpoint: str, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")
        table = served.config.table
        async with PiinguinClient(served.target) as client:
            await client.create_records(
                [
                    PiiRecord(modified_value="flipped", original_value="flipped@acme.com"),
                    PiiRecord(modified_value="intact", original_value="intact@acme.com"),
                ]
            )
            async with dynamodb_client(moto_endpoint) as raw:
                key = {"modifiedValue": {"S": "flipped"}}
                item = (await raw.get_item(TableName=table, Key=key))["Item"]
                share = bytearray(item["sealed"]["B"])
                share[-1] ^= 0x80
                await raw.put_item(TableName=table, Item={**item, "sealed": {"B": bytes(share)}})
            results = await client.read_records(
                ["flipped", "intact"], basis=LawfulBasis.CONSENT, purpose=PURPOSE
            )
            with pytest.raises(PiinguinError) as single:
                await client.read_record("flipped", basis=LawfulBasis.CONSENT, purpose=PURPOSE)

    flipped, intact = results
    assert flipped.record is None
    assert flipped.status is Status.DATA_LOSS
    assert "failed authentication" in flipped.message
    assert intact.record is not None
    assert intact.record.original_value == "intact@acme.com"
    assert single.value.status is Status.DATA_LOSS
    assert "flipped@acme.com" not in log_output()


async def test_insecure_no_encryption_says_so_at_start_and_once_serving(
    dynamodb_server: ServerStarter, moto_endpoint: str, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server(create_table=True, insecure_no_encryption=True) as served:
        await wait_for_health(served, "SERVING")
        async with PiinguinClient(served.target) as client:
            await client.create_record(PiiRecord(modified_value="k", original_value="v@acme.com"))
        async with dynamodb_client(moto_endpoint) as raw:
            key = {"modifiedValue": {"S": "k"}}
            item = (await raw.get_item(TableName=served.config.table, Key=key))["Item"]

    lines = [json.loads(line) for line in log_output().splitlines()]
    events = [line["event"] for line in lines]
    warnings = [line for line in lines if line["event"] == "insecure_no_encryption"]
    assert len(warnings) == 2
    assert all(w["level"] == "warning" for w in warnings)
    assert events.index("insecure_no_encryption") < events.index("listening")
    assert events.index("serving") < len(events) - events[::-1].index("insecure_no_encryption")
    assert "encryption" not in events
    assert item["originalValue"] == {"S": "v@acme.com"}  # as before encryption at rest


async def test_an_encrypting_server_says_which_keyring_without_its_keys(
    dynamodb_server: ServerStarter, key_file: Path, log_output: Callable[[], str]
) -> None:
    async with dynamodb_server(create_table=True) as served:
        await wait_for_health(served, "SERVING")

    lines = [json.loads(x) for x in log_output().splitlines()]
    [line] = [x for x in lines if x["event"] == "encryption"]
    assert str(key_file) in line["keyring"]
    assert line["vault"] == served.config.table
    assert line["sealer"] == ("c" if NATIVE else "pure-python")
    secrets = json.loads(await asyncio.to_thread(key_file.read_text))
    for key in [*secrets["keys"].values(), secrets["index"]["key"]]:
        assert key not in log_output()
    assert "insecure_no_encryption" not in log_output()


async def test_an_unreadable_key_file_stops_the_server_naming_the_flag(
    dynamodb_server: ServerStarter, tmp_path: Path
) -> None:
    with pytest.raises(OptionError, match=r"--keyring: cannot read key file .*absent\.json"):
        async with dynamodb_server(keyring=f"local:{tmp_path / 'absent.json'}"):
            pass


async def test_a_kms_keyring_serves_and_an_unusable_key_keeps_it_not_serving(
    dynamodb_server: ServerStarter,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    log_output: Callable[[], str],
    log_buffer: io.StringIO,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_endpoint)
    async with kms_client(moto_endpoint) as kms:
        arn = (await kms.create_key())["KeyMetadata"]["Arn"]
    async with dynamodb_server(create_table=True, keyring=f"kms:{arn}") as served:
        await wait_for_health(served, "SERVING")
        async with PiinguinClient(served.target) as client:
            await client.create_record(PiiRecord(modified_value="k", original_value="k@acme.com"))
            got = await client.read_record("k", basis=LawfulBasis.CONSENT, purpose=PURPOSE)
        async with dynamodb_client(moto_endpoint) as raw:
            key = {"modifiedValue": {"S": "k"}}
            item = (await raw.get_item(TableName=served.config.table, Key=key))["Item"]
    assert got.original_value == "k@acme.com"
    assert item["keyVersion"] == {"S": f"kms:{arn}"}

    log_buffer.seek(0)
    log_buffer.truncate()
    async with dynamodb_server(create_table=True, keyring="kms:alias/absent") as served:
        error = (await wait_for_log(log_output, "storage_not_ready"))["error"]
        assert await health(served) == "NOT_SERVING"
    assert error == "KMS key 'alias/absent' is missing or not usable"
