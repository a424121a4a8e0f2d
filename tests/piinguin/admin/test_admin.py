"""``piinguin-admin`` end to end: key files, and sealing, re-encrypting and indexing a
DynamoDB table on moto (server mode), as an operator runs them."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from piinguin.admin.main import main
from storage import Record
from storage.crypto import Keyring, load_key_file
from storage.dynamodb import DynamoDBStorage
from storage.encrypted import EncryptedStorage
from tests.dynamodb_fixtures import (
    REGION,
    dynamodb_client,
    fresh_key_table,
    fresh_table,
    kms_client,
)
from tests.storage.leaks import found_values

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

VALUES = {f"key-{n:03d}": f"customer{n}@acme.com" for n in range(37)}


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


async def admin(*argv: str) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    code = await main(list(argv), {}, out=out, err=err)
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_endpoint)


class Tables:
    def __init__(self, client: DynamoDBClient, table: str, key_table: str, endpoint: str):
        self.client, self.table, self.key_table = client, table, key_table
        self.options = [
            f"--table={table}",
            f"--key-table={key_table}",
            f"--dynamodb-endpoint={endpoint}",
            f"--region={REGION}",
        ]

    async def everything(self) -> list[dict[str, Any]]:
        return [
            item
            for table in (self.table, self.key_table)
            for item in (await self.client.scan(TableName=table))["Items"]
        ]


@pytest.fixture
async def tables(moto_endpoint: str, aws: None) -> AsyncIterator[Tables]:
    async with (
        dynamodb_client(moto_endpoint) as client,
        fresh_table(client) as table,
        fresh_key_table(client) as key_table,
    ):
        for key, value in VALUES.items():  # as the original piinguin wrote them
            await client.put_item(
                TableName=table,
                Item={"modifiedValue": {"S": key}, "originalValue": {"S": value}},
            )
        yield Tables(client, table, key_table, moto_endpoint)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    assert asyncio.run(admin("keyring", "create", str(path), "--index-bits", "12")).code == 0
    return path


async def read_all(tables: Tables, keyring: str) -> dict[str, str]:
    path = Path(keyring.removeprefix("local:"))
    backend = DynamoDBStorage(tables.client, tables.table, key_table=tables.key_table)
    store = EncryptedStorage(backend, Keyring(await load_key_file(path)), vault=tables.table)
    got = await store.get_many(list(VALUES))
    return {r.modified_value: r.original_value for r in got if isinstance(r, Record)}


async def test_keyring_create_and_rotate(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    created = await admin("keyring", "create", str(path), "--expected-values", "1000000")
    again = await admin("keyring", "create", str(path))
    rotated = await admin("keyring", "rotate", str(path))

    data = json.loads(path.read_text())
    assert created.code == 0
    assert created.out.startswith(f"{path}: created with local:")
    assert "blind index of 18 bits" in created.out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (again.code, again.err) == (2, f"piinguin-admin: error: {path}: File exists\n")
    assert rotated.code == 0
    assert f"added local:{data['current']}, now current" in rotated.out
    assert len(data["keys"]) == 2
    for key in [*data["keys"].values(), data["index"]["key"]]:
        assert key not in created.out + rotated.out


async def test_encrypt_seals_a_legacy_table_in_place_and_resumes(
    tables: Tables, key_file: Path, tmp_path: Path
) -> None:
    keyring = f"local:{key_file}"
    checkpoint = tmp_path / "encrypt.checkpoint"
    # An earlier run stopped after the first keys.
    checkpoint.write_text(
        json.dumps({"command": "encrypt", "table": tables.table, "resume_after": "key-009"})
    )

    first = await admin(
        "encrypt", f"--keyring={keyring}", f"--checkpoint={checkpoint}", "--page-size=5",
        *tables.options,
    )  # fmt: skip
    remaining = first.out
    whole = await admin("encrypt", f"--keyring={keyring}", f"--checkpoint={checkpoint}",
                        *tables.options)  # fmt: skip
    again = await admin("encrypt", f"--keyring={keyring}", *tables.options)

    assert first.code == 0, first.err
    assert first.err.startswith(f"encrypt: resuming from {checkpoint}\n")
    assert "encrypt: done: 27 scanned, 27 encrypted, 0 already encrypted" in remaining
    assert json.loads(checkpoint.read_text())["done"] is True
    # The finished checkpoint starts over: the first ten, then nothing left to do.
    assert "37 scanned, 10 encrypted, 27 already encrypted" in whole.out
    assert "37 scanned, 0 encrypted, 37 already encrypted" in again.out
    assert found_values(VALUES.values(), await tables.everything()) == []
    assert await read_all(tables, keyring) == VALUES
    assert found_values(VALUES.values(), first.out + first.err + whole.out + again.out) == []


async def test_reencrypt_after_rotation_moves_everything_to_the_new_version(
    tables: Tables, key_file: Path
) -> None:
    keyring = f"local:{key_file}"
    assert (await admin("encrypt", f"--keyring={keyring}", *tables.options)).code == 0
    await admin("keyring", "rotate", str(key_file))
    current = f"local:{json.loads(await asyncio.to_thread(key_file.read_text))['current']}"

    ran = await admin("reencrypt", f"--keyring={keyring}", *tables.options)
    again = await admin("reencrypt", f"--keyring={keyring}", *tables.options)

    assert ran.code == 0, ran.err
    assert "37 scanned, 37 re-encrypted, 0 already under the current key" in ran.out
    assert "37 scanned, 0 re-encrypted, 37 already under the current key" in again.out
    versions = {
        item["keyVersion"]["S"]
        for item in (await tables.client.scan(TableName=tables.table))["Items"]
    }
    assert versions == {current}
    assert await read_all(tables, keyring) == VALUES


async def test_encrypt_with_a_kms_keyring(tables: Tables, moto_endpoint: str) -> None:
    async with kms_client(moto_endpoint) as kms:
        arn = (await kms.create_key())["KeyMetadata"]["Arn"]

    ran = await admin("encrypt", f"--keyring=kms:{arn}", *tables.options)

    assert ran.code == 0, ran.err
    assert "37 encrypted" in ran.out
    items = (await tables.client.scan(TableName=tables.table))["Items"]
    assert {item["keyVersion"]["S"] for item in items} == {f"kms:{arn}"}
    assert found_values(VALUES.values(), await tables.everything()) == []


async def test_add_index_to_a_table_made_without_it(moto_endpoint: str, aws: None) -> None:
    async with dynamodb_client(moto_endpoint) as client:
        name = f"piinguin-old-{id(client):x}"
        await client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "modifiedValue", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "modifiedValue", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            options = [
                f"--table={name}",
                f"--dynamodb-endpoint={moto_endpoint}",
                f"--region={REGION}",
            ]
            added = await admin("add-index", *options)
            again = await admin("add-index", *options)
            table = (await client.describe_table(TableName=name))["Table"]
        finally:
            await client.delete_table(TableName=name)

    assert (added.code, added.out) == (0, f"{name}: blind index added and active\n")
    assert again.out == f"{name}: blind index already there\n"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["blindIndex"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["encrypt"], "--keyring: required: the keyring the servers use"),
        (["encrypt", "--keyring=ephemeral"], "--keyring: ephemeral keys die with this command"),
        (["reencrypt", "--keyring=vault:x"], "--keyring: expected local:PATH or kms:KEY_ID_OR_ARN"),
        (["encrypt", "--keyring=local:/nonexistent/k.json"], "cannot read key file"),
        (["encrypt", "--keyring=local:k", "--page-size=0"], "--page-size: expected a positive"),
    ],
)
async def test_bad_usage_is_one_line_and_exit_2(argv: list[str], message: str, aws: None) -> None:
    ran = await admin(*argv, "--dynamodb-endpoint=http://127.0.0.1:1", f"--region={REGION}")

    assert ran.code == 2
    assert ran.err.startswith("piinguin-admin: error: ")
    assert message in ran.err
    assert ran.err.count("\n") == 1


async def test_missing_tables_are_named(moto_endpoint: str, aws: None, key_file: Path) -> None:
    ran = await admin(
        "encrypt", f"--keyring=local:{key_file}", "--table=absent-table", "--key-table=absent-keys",
        f"--dynamodb-endpoint={moto_endpoint}", f"--region={REGION}",
    )  # fmt: skip

    assert ran.code == 2
    assert ran.err == (
        "piinguin-admin: error: DynamoDB table 'absent-table' does not exist in this account "
        "and region\n"
    )
