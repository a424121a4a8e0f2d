"""EraseSubject over a real socket, on memory storage with encryption at rest: records
gone, tombstones on pseudonyms and values, every write path refused as erased (v1 single
and bulk, the legacy API), receipts that verify and break when altered, deny by default,
audited, and no original value in any answer, receipt or log line."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import NamedTuple

import pytest
from grpclib.client import Channel
from grpclib.const import Status

from piinguin.access.auth import Authenticator
from piinguin.access.policy import Policy, token_digest
from piinguin.client import (
    Erased,
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiiRecord,
    Unavailable,
    Value,
)
from piinguin.receipts import ReceiptError, ReceiptSigner
from piinguin.services import legacy_protocol as legacy
from piinguin.services.erasure import RECEIPT_FORMAT
from storage import MemoryStorage, Record, SubjectStorage
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.records import ItemFailed, WriteOutcome
from tests.conftest import running_server
from tests.doubles import RecordingAudit, WriteLandsMidFind
from tests.storage.leaks import found_values

pytestmark = pytest.mark.socket

MAIL = "pii-canary-jane@example.org"
OTHER = "pii-canary-joe@example.org"
TOKENS = {"dpo": "dpo-token-8d1e", "writer": "writer-token-2b7a", "reader": "reader-token-4c4c"}
POLICY = Policy.from_document(
    {
        "principals": {
            "dpo": {
                "token_sha256": [token_digest(TOKENS["dpo"])],
                "operations": ["erase", "audit", "read"],
                "lawful_bases": ["legal_obligation"],
                "purpose_pattern": "^DSR-[0-9]+$",
            },
            "writer": {"token_sha256": [token_digest(TOKENS["writer"])], "operations": ["write"]},
            # May read and find, never erase: deny by default.
            "reader": {
                "token_sha256": [token_digest(TOKENS["reader"])],
                "operations": ["read", "find"],
                "lawful_bases": ["legal_obligation"],
            },
        }
    }
)
BASIS, PURPOSE = LawfulBasis.LEGAL_OBLIGATION, "DSR-17"


class Erasing(NamedTuple):
    target: str
    storage: SubjectStorage
    audit: RecordingAudit
    signer: ReceiptSigner

    def client(self, principal: str) -> PiinguinClient:
        return PiinguinClient(self.target, token=TOKENS[principal], timeout=5)


def encrypted_memory() -> EncryptedStorage:
    return EncryptedStorage(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")


@contextlib.asynccontextmanager
async def erasing(storage: SubjectStorage | None = None) -> AsyncIterator[Erasing]:
    storage = storage if storage is not None else encrypted_memory()
    audit, signer = RecordingAudit(), ReceiptSigner.generate()
    async with running_server(
        storage, auth=Authenticator(POLICY), audit=audit, legacy_api=True, receipt_signer=signer
    ) as server:
        yield Erasing(f"127.0.0.1:{server.port}", storage, audit, signer)


@pytest.fixture
async def vault() -> AsyncIterator[Erasing]:
    async with erasing() as running:
        yield running


def record(key: str, value: str, field_name: str = "user_id") -> PiiRecord:
    return PiiRecord(modified_value=key, original_value=value, field_name=field_name)


async def write(vault: Erasing, *records: PiiRecord) -> None:
    async with vault.client("writer") as client:
        assert all(r.ok for r in await client.create_records(list(records)))


async def legacy_create(vault: Erasing, key: str, value: str) -> legacy.Status:
    channel = Channel("127.0.0.1", int(vault.target.rsplit(":", 1)[1]))
    try:
        stub = legacy.PiinguinStub(
            channel, metadata={"authorization": f"Bearer {TOKENS['writer']}"}
        )
        request = legacy.CreatePiiRecordRequest(
            pii_record=legacy.PiiRecord(modified_value=key, original_value=value)
        )
        response = await stub.create_pii_record(request)
    finally:
        channel.close()
    assert response.status is not None
    return response.status


async def test_erase_deletes_tombstones_and_every_write_path_is_refused_as_erased(
    vault: Erasing, log_output: Callable[[], str]
) -> None:
    await write(vault, record("k-mail", MAIL), record("k-mail-ctx", MAIL, "contexts"))
    await write(vault, record("k-other", OTHER))
    async with vault.client("dpo") as dpo:
        receipt = await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose=PURPOSE)
        body = receipt.verify_with(vault.signer.public_key_pem)

    assert receipt.pseudonyms == ("k-mail", "k-mail-ctx")
    assert body["pseudonyms"] == ["k-mail", "k-mail-ctx"]
    assert (body["format"], body["principal"], body["lawful_basis"], body["purpose"]) == (
        RECEIPT_FORMAT,
        "dpo",
        "legal_obligation",
        PURPOSE,
    )
    assert (body["records_erased"], body["value_tombstones"], body["complete"]) == (2, 1, True)
    assert body["erased_at"].endswith("Z")
    assert body["request_id"]
    assert body["receipt_id"]
    assert await vault.storage.get_many(["k-mail", "k-mail-ctx", "k-other"]) == [
        None,
        None,
        (await vault.storage.get_many(["k-other"]))[0],
    ]
    marks = await vault.storage.marks(["k-mail", "k-mail-ctx"], [])
    assert {k: m.kind for k, m in marks.pseudonyms.items()} == {
        "k-mail": "erased",
        "k-mail-ctx": "erased",
    }
    assert {m.reference for m in marks.pseudonyms.values()} == {body["receipt_id"]}

    async with vault.client("writer") as writer:
        # v1 single: FAILED_PRECONDITION, the client's Erased.
        with pytest.raises(Erased) as single:
            await writer.create_record(record("k-mail", MAIL))
        assert single.value.status is Status.FAILED_PRECONDITION
        assert single.value.message.startswith("erased")
        # v1 bulk, mixed: the erased pseudonym and a new pseudonym carrying the erased
        # value (the value's tombstone) are refused as erased; the others are stored.
        results = await writer.create_records(
            [
                record("k-mail-ctx", "anything now"),
                record("k-new", "pii-canary-new@example.org"),
                record("k-mail-again", MAIL.upper()),  # the same value, normalised
                record("k-other", OTHER),
            ]
        )
    assert [(r.status, r.erased) for r in results] == [
        (Status.FAILED_PRECONDITION, True),
        (Status.OK, False),
        (Status.FAILED_PRECONDITION, True),
        (Status.OK, False),
    ]
    assert all(r.message.startswith("erased") for r in results if r.erased)
    # The legacy API: in band, isSuccess false, a message starting "erased".
    status = await legacy_create(vault, "k-mail", MAIL)
    assert (status.is_success, status.message.startswith("erased")) == (False, True)
    stored = await vault.storage.get_many(["k-mail", "k-mail-ctx", "k-mail-again", "k-new"])
    assert [outcome is None for outcome in stored] == [True, True, True, False]

    everything = json.dumps([body, receipt.receipt, receipt.signature]) + log_output()
    assert found_values([MAIL, OTHER], everything) == []


async def test_the_erasure_is_audited_with_each_keys_outcome(vault: Erasing) -> None:
    await write(vault, record("k-mail", MAIL))
    async with vault.client("dpo") as dpo:
        await dpo.erase_subject(
            values=[MAIL], modified_values=["k-never-stored"], basis=BASIS, purpose=PURPOSE
        )
    [event] = [e for e in vault.audit.appended if e.operation == "erase"]
    assert (event.principal, event.code, event.lawful_basis, event.purpose) == (
        "dpo",
        Status.OK.value,
        int(BASIS),
        PURPOSE,
    )
    assert {k.modified_value: k.code for k in event.keys} == {
        "k-mail": Status.OK.value,
        "k-never-stored": Status.NOT_FOUND.value,
    }


async def test_erasure_is_denied_by_default_and_the_refusal_audited(
    vault: Erasing, log_output: Callable[[], str]
) -> None:
    await write(vault, record("k-mail", MAIL))
    async with vault.client("reader") as reader:
        with pytest.raises(PermissionDenied):
            await reader.erase_subject(
                values=[MAIL], modified_values=["k-mail"], basis=BASIS, purpose=PURPOSE
            )
    [refusal] = [e for e in vault.audit.appended if e.operation == "erase"]
    assert (refusal.principal, refusal.code) == ("reader", Status.PERMISSION_DENIED.value)
    assert [k.modified_value for k in refusal.keys] == ["k-mail"]
    assert (await vault.storage.get_many(["k-mail"]))[0] is not None
    assert found_values([MAIL], log_output()) == []


async def test_a_purpose_outside_the_grant_is_refused(vault: Erasing) -> None:
    async with vault.client("dpo") as dpo:
        with pytest.raises(PermissionDenied):
            await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose="because")


async def test_erasing_twice_answers_a_new_receipt_and_keeps_the_tombstones(
    vault: Erasing,
) -> None:
    await write(vault, record("k-mail", MAIL))
    async with vault.client("dpo") as dpo:
        first = await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose=PURPOSE)
        second = await dpo.erase_subject(
            values=[Value(MAIL, "user_id")],
            modified_values=["k-mail"],
            basis=BASIS,
            purpose=PURPOSE,
        )
    one = first.verify_with(vault.signer.public_key_pem)
    two = second.verify_with(vault.signer.public_key_pem)
    assert one["receipt_id"] != two["receipt_id"]
    assert (one["records_erased"], two["records_erased"]) == (1, 0)
    assert two["pseudonyms"] == ["k-mail"]
    marks = await vault.storage.marks(["k-mail"], [])
    assert marks.pseudonyms["k-mail"].reference == two["receipt_id"]


async def test_a_value_narrowed_to_a_field_is_erased_in_that_field_alone(
    vault: Erasing,
) -> None:
    await write(vault, record("k-mail", MAIL), record("k-mail-ctx", MAIL, "contexts"))
    async with vault.client("dpo") as dpo:
        receipt = await dpo.erase_subject(
            values=[Value(MAIL, "contexts")], basis=BASIS, purpose=PURPOSE
        )
    body = receipt.verify_with(vault.signer.public_key_pem)

    # The value is not tombstoned as a whole: that would refuse it in every field.
    assert (body["pseudonyms"], body["value_tombstones"]) == (["k-mail-ctx"], 0)
    await write(vault, record("k-mail-new", MAIL))
    async with vault.client("dpo") as dpo:
        found = await dpo.read_records(
            ["k-mail", "k-mail-new", "k-mail-ctx"], basis=BASIS, purpose=PURPOSE
        )
    assert [r.status for r in found] == [Status.OK, Status.OK, Status.NOT_FOUND]


async def test_receipt_keys_and_tampering(vault: Erasing) -> None:
    await write(vault, record("k-mail", MAIL))
    async with vault.client("dpo") as dpo:
        receipt = await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose=PURPOSE)
    # Any authenticated caller gets the public keys, even one without any grant for them.
    async with vault.client("writer") as writer:
        keys = await writer.receipt_keys()
    assert keys == {vault.signer.key_id: vault.signer.public_key_pem}
    assert receipt.key_id == vault.signer.key_id
    assert receipt.verify_with(keys[receipt.key_id])["pseudonyms"] == ["k-mail"]
    altered = receipt.receipt.replace('"records_erased":1', '"records_erased":0')
    assert altered != receipt.receipt
    with pytest.raises(ReceiptError, match="does not match"):
        type(receipt)(altered, receipt.signature, receipt.key_id).verify_with(keys[receipt.key_id])
    with pytest.raises(ReceiptError, match="does not match"):
        receipt.verify_with(ReceiptSigner.generate().public_key_pem)


async def test_a_bad_request_is_invalid_argument_without_the_value(vault: Erasing) -> None:
    async with vault.client("dpo") as dpo:
        with pytest.raises(Exception, match=r"values\[0\]\.value is empty") as empty:
            await dpo.erase_subject(values=["  "], basis=BASIS, purpose=PURPOSE)
    assert getattr(empty.value, "status", None) is Status.INVALID_ARGUMENT


class FailingDeletes(MemoryStorage):
    """Deletes fail for now (``ItemFailed``) while ``failing``; marks work."""

    failing = True

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        if self.failing:
            return [ItemFailed("storage did not process the item in time") for _ in keys]
        return await super().delete_many(keys)


async def test_a_failing_delete_answers_unavailable_after_the_tombstones_and_a_retry_finishes(
    log_output: Callable[[], str],
) -> None:
    storage = FailingDeletes()
    async with erasing(storage) as vault:
        await write(vault, record("k-mail", MAIL))
        async with vault.client("dpo") as dpo:
            with pytest.raises(Unavailable, match="erase again"):
                await dpo.erase_subject(modified_values=["k-mail"], basis=BASIS, purpose=PURPOSE)
            # The tombstone stands already: a write is refused, the record not replaced.
            async with vault.client("writer") as writer:
                [result] = await writer.create_records([record("k-mail", MAIL)])
            assert result.erased
            assert (await storage.get_many(["k-mail"]))[0] is not None
            storage.failing = False
            receipt = await dpo.erase_subject(
                modified_values=["k-mail"], basis=BASIS, purpose=PURPOSE
            )
        events = [e for e in vault.audit.appended if e.operation == "erase"]
    assert (await storage.get_many(["k-mail"]))[0] is None
    assert receipt.pseudonyms == ("k-mail",)
    assert [(e.code, [k.code for k in e.keys]) for e in events] == [
        (Status.UNAVAILABLE.value, [Status.UNAVAILABLE.value]),
        (Status.OK.value, [Status.OK.value]),
    ]
    assert found_values([MAIL], log_output()) == []


async def test_a_record_written_while_the_erasure_finds_the_person_is_erased_too() -> None:
    storage = WriteLandsMidFind(Record("k-late", MAIL.upper(), "user_id"))
    async with erasing(storage) as vault:
        await write(vault, record("k-mail", MAIL))
        async with vault.client("dpo") as dpo:
            receipt = await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose=PURPOSE)

    assert await storage.get_many(["k-mail", "k-late"]) == [None, None]
    assert receipt.pseudonyms == ("k-late", "k-mail")
    assert json.loads(receipt.receipt)["records_erased"] == 2


async def test_without_encryption_a_value_alone_cannot_be_erased() -> None:
    async with erasing(MemoryStorage()) as vault, vault.client("dpo") as dpo:
        with pytest.raises(Exception, match="nothing to erase") as refused:
            await dpo.erase_subject(values=[MAIL], basis=BASIS, purpose=PURPOSE)
    assert getattr(refused.value, "status", None) is Status.FAILED_PRECONDITION
    assert MAIL not in str(refused.value)
