"""Find and export on DynamoDB (moto in server mode) with a local keyring: the blind
index of the records table finds the person, the audit table gives the history."""

from __future__ import annotations

from piinguin.client import LawfulBasis, PiinguinClient, Value
from piinguin.services.subjects import SaltEpoch
from storage import Record
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import DynamoDBStorage
from storage.encrypted import EncryptedStorage
from storage.subjects import snowplow_pseudonym
from tests.conftest import running_vault
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table
from tests.storage.audit_events import audit_store_on, fresh_audit_table

VALUE = "198.51.100.7"
SALT = "dynamo-canary-salt-3e1"


async def test_find_and_export_on_dynamodb_by_index_and_recomputation(moto_endpoint: str) -> None:
    async with (
        dynamodb_client(moto_endpoint) as client,
        fresh_table(client) as table,
        fresh_key_table(client) as key_table,
        fresh_audit_table(client) as audit_table,
    ):
        backend = DynamoDBStorage(client, table, key_table=key_table)
        storage = EncryptedStorage(backend, Keyring(LocalKeys.ephemeral()), vault=table)
        hashed = snowplow_pseudonym(VALUE, SALT, "SHA-256")
        await storage.put_many(
            [
                Record(hashed, VALUE, "user_ipaddress", app_id="web"),
                # The same address as an IPv4-mapped IPv6 address: one normal form.
                Record("k-mapped", "::ffff:198.51.100.7", "user_ipaddress"),
                Record("k-other", "198.51.100.8", "user_ipaddress"),
            ]
        )
        salts = [SaltEpoch("2024", SALT, ("SHA-256",))]
        audit = audit_store_on(client, audit_table)
        async with (
            running_vault(storage, audit=audit, salts=salts) as vault,
            PiinguinClient(vault.target) as piinguin,
        ):
            basis, purpose = LawfulBasis.LEGAL_OBLIGATION, "DSR-3"
            await piinguin.read_record(hashed, basis=basis, purpose=purpose)
            found = await piinguin.find_subject(values=[VALUE], basis=basis, purpose=purpose)
            document = await piinguin.export_subject(
                values=[Value(VALUE, "user_ipaddress")], basis=basis, purpose=purpose
            )

    assert {r.modified_value: r.found_by for r in found.records} == {
        hashed: ["blind_index", "snowplow_hash:2024"],
        "k-mapped": ["blind_index"],
    }
    assert found.complete
    records = {r["modified_value"]: r for r in document["records"]}
    assert records[hashed]["original_value"] == VALUE
    assert [a["operation"] for a in records[hashed]["access"]] == ["read", "find"]
    assert [a["operation"] for a in records["k-mapped"]["access"]] == ["find"]
