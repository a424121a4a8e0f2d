"""Issue #16's proof, end to end on both backends (memory and DynamoDB on moto, each with
encryption at rest): the Lambda handler writes pairs from a Kinesis batch, the person is
found from the original value with and without Snowplow's salt configured, exported,
erased; the same batch delivered again stores nothing, and ``batchItemFailures`` is
empty. No original value in any log line, receipt or table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import pytest

from piinguin.client import LawfulBasis, PiinguinClient
from piinguin.receipts import ReceiptSigner
from piinguin.services.subjects import SaltEpoch
from storage import MemoryStorage, Record, SubjectStorage
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import DynamoDBStorage
from storage.dynamodb.items import KEY
from storage.dynamodb.marks import DIGEST_PREFIX, pseudonym_key
from storage.encrypted import EncryptedStorage
from storage.subjects import snowplow_pseudonym
from tests.conftest import running_server
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table
from tests.piinguin.server.dynamodb.test_encryption import scan
from tests.relay.factory import json_item, kinesis_record, lambda_event, pii_line, pojo_item
from tests.storage.leaks import found_values

from .servers import RelayFactory, invoke

pytestmark = pytest.mark.socket

SALT = "pii-salt-canary-71c"
JANE = "pii-canary-jane@example.org"
JANE_IP = "pii-canary-203.0.113.77"
BOB = "pii-canary-bob@example.org"
BASIS, PURPOSE = LawfulBasis.LEGAL_OBLIGATION, "DSR-2026-16"


def hashed(value: str, function: str = "SHA-256") -> str:
    return snowplow_pseudonym(value, SALT, function)


class Backend(NamedTuple):
    storage: SubjectStorage
    #: The raw items of every table, for DynamoDB; ``None`` for memory.
    items: Callable[[], Any] | None


@contextlib.asynccontextmanager
async def backend(name: str, request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    keyring = Keyring(LocalKeys.ephemeral())
    if name == "memory":
        yield Backend(EncryptedStorage(MemoryStorage(), keyring, vault="memory"), None)
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    async with (
        dynamodb_client(endpoint) as client,
        fresh_table(client) as table,
        fresh_key_table(client) as key_table,
    ):
        sealed = DynamoDBStorage(client, table, key_table=key_table)

        async def items() -> dict[str, list[dict[str, Any]]]:
            return {"records": await scan(client, table), "keys": await scan(client, key_table)}

        yield Backend(EncryptedStorage(sealed, keyring, vault=table), items)


def batch() -> dict[str, Any]:
    """Jane's e-mail twice (two fields, one pseudonym each) and her address; Bob's e-mail."""
    jane = [
        pojo_item("user_id", JANE, hashed(JANE)),
        pojo_item("user_ipaddress", JANE_IP, hashed(JANE_IP)),
    ]
    return lambda_event(
        kinesis_record(
            pii_line(jane, [json_item("contexts", JANE, modified=hashed(JANE, "MD5"))]), 1
        ),
        kinesis_record(pii_line([pojo_item("user_id", BOB, hashed(BOB))]), 2),
    )


def summaries(log_output: Callable[[], str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_output().splitlines()]
    return [line for line in lines if line["event"] == "relay_summary"]


@pytest.mark.parametrize("name", ["memory", "dynamodb"])
async def test_relay_find_export_erase_then_the_same_batch_stores_nothing_again(
    name: str,
    request: pytest.FixtureRequest,
    make_relay: RelayFactory,
    log_output: Callable[[], str],
) -> None:
    jane_keys = sorted([hashed(JANE), hashed(JANE, "MD5"), hashed(JANE_IP)])
    salts = [SaltEpoch("2026", SALT, ("SHA-256", "MD5"))]
    signer = ReceiptSigner.generate()
    async with (
        backend(name, request) as store,
        running_server(store.storage, salts=salts, receipt_signer=signer) as salted,
        running_server(store.storage, receipt_signer=signer) as unsalted,
    ):
        relay = make_relay(target=f"127.0.0.1:{salted.port}")
        assert await invoke(relay, batch()) == {"batchItemFailures": []}

        async with PiinguinClient(f"127.0.0.1:{unsalted.port}") as plain:
            by_index = await plain.find_subject(
                values=[JANE, JANE_IP], basis=BASIS, purpose=PURPOSE
            )
        async with PiinguinClient(f"127.0.0.1:{salted.port}") as client:
            by_both = await client.find_subject(
                values=[JANE, JANE_IP], basis=BASIS, purpose=PURPOSE
            )
            exported = await client.export_subject(values=[JANE], basis=BASIS, purpose=PURPOSE)
            receipt = await client.erase_subject(
                values=[JANE, JANE_IP], basis=BASIS, purpose=PURPOSE
            )
            keys = await client.receipt_keys()

        # Redelivered as is: nothing stored again, nothing reported.
        assert await invoke(relay, batch()) == {"batchItemFailures": []}
        jane_after = await store.storage.get_many(jane_keys)
        [bob_after] = await store.storage.get_many([hashed(BOB)])
        raw = await store.items() if store.items is not None else None

    assert {r.modified_value: r.found_by for r in by_index.records} == {
        key: ["blind_index"] for key in jane_keys
    }
    assert {r.modified_value for r in by_both.records} == set(jane_keys)
    assert all(
        r.found_by[0] == "blind_index" and r.found_by[1].startswith("snowplow_hash:2026")
        for r in by_both.records
    )
    assert sorted(r["modified_value"] for r in exported["records"]) == sorted(
        [hashed(JANE), hashed(JANE, "MD5")]
    )
    body = receipt.verify_with(keys[receipt.key_id])
    assert (body["pseudonyms"], body["records_erased"], body["value_tombstones"]) == (
        jane_keys,
        3,
        2,
    )
    assert jane_after == [None, None, None]
    assert isinstance(bob_after, Record)
    assert bob_after.original_value == BOB
    first, second = summaries(log_output)
    assert (first["written"], first["erased"], first["failed"]) == (4, 0, 0)
    assert (second["written"], second["erased"], second["failed"]) == (1, 3, 0)

    assert found_values([JANE, JANE_IP, BOB], log_output()) == []
    assert found_values([JANE, JANE_IP], [receipt.receipt, body]) == []
    if raw is not None:
        assert found_values([JANE, JANE_IP, BOB], raw) == []
        resting = {item[KEY]["S"] for item in raw["records"]}
        pads = {item[KEY]["S"] for item in raw["keys"]}
        assert {pseudonym_key(key) for key in jane_keys} <= resting
        assert sum(1 for key in resting if key.startswith(DIGEST_PREFIX)) == 2
        assert not set(jane_keys) & (resting | pads)  # records and pads gone: shredded
        assert hashed(BOB) in resting & pads
