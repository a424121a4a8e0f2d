"""FindSubject and ExportSubject: found by index, by Snowplow hash recomputation, by
pseudonym; refused by default; audited before they answer; never an original in a find,
a log line or an error. Each runs over a real socket and over grpclib's ChannelFor."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.testing import ChannelFor

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Authenticator
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Policy, token_digest
from piinguin.codec import LimitedProtoCodec
from piinguin.server.calls import CallTracker
from piinguin.services.subjects import SaltEpoch
from piinguin.services.vault import PiinguinService
from piinguin.v1 import (
    LawfulBasis,
    PiinguinStub,
    ReadPiiRecordRequest,
    SubjectRequest,
    SubjectValue,
)
from storage import AuditStore, MemoryStorage, Record, SubjectStorage
from storage.audit import AuditQuery
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryAuditStore
from storage.subjects import snowplow_pseudonym
from tests.conftest import running_server
from tests.doubles import FailingAuditStore

VALUE = "Jane.Doe+canary@example.org"
OTHER = "someone.else+canary@example.org"
SALT = "pepper-canary-salt-93f1"
EPOCHS = (
    SaltEpoch("2024", SALT, ("SHA-256",)),
    SaltEpoch("2025", "another-canary-salt-77", ("SHA-256", "MD5")),
)
JUSTIFIED: dict[str, Any] = {"lawful_basis": LawfulBasis.LEGAL_OBLIGATION, "purpose": "DSR-17"}


def sealed_memory(index_bits: int = 16) -> EncryptedStorage:
    keyring = Keyring(LocalKeys.ephemeral(index_bits=index_bits))
    return EncryptedStorage(MemoryStorage(), keyring, vault="memory")


def request(*values: str | SubjectValue, keys: Sequence[str] = (), **extra: Any) -> SubjectRequest:
    return SubjectRequest(
        values=[SubjectValue(value=v) if isinstance(v, str) else v for v in values],
        modified_values=list(keys),
        **{**JUSTIFIED, **extra},
    )


class Serve(Protocol):
    def __call__(
        self,
        storage: SubjectStorage,
        *,
        salts: Sequence[SaltEpoch] = (),
        auth: Authenticator | None = None,
        audit: AuditStore | None = None,
    ) -> contextlib.AbstractAsyncContextManager[PiinguinStub]: ...


@pytest.fixture(params=["socket", "in_memory"])
def serve(request: pytest.FixtureRequest) -> Serve:
    @contextlib.asynccontextmanager
    async def serving(
        storage: SubjectStorage,
        *,
        salts: Sequence[SaltEpoch] = (),
        auth: Authenticator | None = None,
        audit: AuditStore | None = None,
    ) -> AsyncIterator[PiinguinStub]:
        auth = auth or Authenticator.insecure()
        audit = audit if audit is not None else MemoryAuditStore()
        if request.param == "socket":
            async with running_server(storage, auth=auth, audit=audit, salts=salts) as server:
                channel = Channel("127.0.0.1", server.port)
                try:
                    yield PiinguinStub(channel)
                finally:
                    channel.close()
            return
        auditor = Auditor(audit)
        service = PiinguinService(storage, Gatekeeper(auditor), max_bulk_items=10, salts=salts)
        tracked = CallTracker(auth, auditor).wrap(service)
        async with ChannelFor([tracked], codec=LimitedProtoCodec(1 << 20)) as channel:
            yield PiinguinStub(channel)

    return serving


def hashed(value: str, epoch: SaltEpoch = EPOCHS[0], function: str = "SHA-256") -> str:
    return snowplow_pseudonym(value, epoch.salt, function)


async def test_find_by_the_blind_index_answers_provenance_never_the_original(
    serve: Serve,
) -> None:
    storage = sealed_memory()
    await storage.put_many(
        [
            Record("k-user", VALUE, "user_id", app_id="shop", hash_function="SHA-256"),
            Record("k-ctx", VALUE.lower(), "contexts", "$.email", "iglu:com.acme/u/1-0-0"),
            Record("k-other", OTHER, "user_id"),
        ]
    )
    [stored] = await storage.get_many(["k-user"])
    assert isinstance(stored, Record)

    async with serve(storage) as stub:
        answer = await stub.find_subject(request(VALUE))

    assert [r.modified_value for r in answer.records] == ["k-ctx", "k-user"]
    assert all(r.found_by == ["blind_index"] for r in answer.records)
    ctx, user = answer.records
    assert (user.field_name, user.app_id, user.hash_function) == ("user_id", "shop", "SHA-256")
    assert (user.created_at, user.updated_at) == (stored.created_at, stored.updated_at)
    assert (ctx.json_path, ctx.schema) == ("$.email", "iglu:com.acme/u/1-0-0")
    assert answer.complete
    assert answer.unreadable == []
    assert VALUE.lower() not in json.dumps(answer.to_dict()).lower()


async def test_recomputation_finds_records_written_before_any_index(serve: Serve) -> None:
    plain = MemoryStorage()  # --insecure-no-encryption: no index at all
    old, newer = hashed(VALUE), hashed(VALUE, EPOCHS[1], "MD5")
    await plain.put_many([Record(old, VALUE, "user_id"), Record(newer, VALUE, "user_id")])

    async with serve(plain, salts=EPOCHS) as stub:
        answer = await stub.find_subject(request(VALUE))
    async with serve(plain) as stub:
        unsalted = await stub.find_subject(request(VALUE))

    found = {r.modified_value: r.found_by for r in answer.records}
    assert found == {old: ["snowplow_hash:2024"], newer: ["snowplow_hash:2025"]}
    assert answer.complete
    # Without salts and without an index nothing can look a value up: and it says so.
    assert (unsalted.records, unsalted.complete) == ([], False)


async def test_recomputing_md2_pseudonyms_of_long_values_never_stalls_other_calls(
    serve: Serve,
) -> None:
    # MD2 is pure Python: a 64 KiB value takes about 0.2 s per text (the value and its
    # normal form differ here) and epoch. On the event loop, each value's recomputation
    # stalled every other call for over a second.
    epochs = [SaltEpoch(f"md2-{n}", f"salt-{n}", ("MD2",)) for n in range(3)]
    long_value = "e\u0301" * (65_535 // 3)  # not in NFC: both forms are hashed
    gaps: list[float] = []
    finding = True

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while finding:
            await asyncio.sleep(0)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async with serve(MemoryStorage(), salts=epochs) as stub:
        ticks = asyncio.create_task(ticker())
        answer = await stub.find_subject(request(long_value, long_value[:-1] + "x"))
        finding = False
        await ticks

    assert answer.records == []
    assert max(gaps) < 0.25


async def test_a_field_name_narrows_the_find(serve: Serve) -> None:
    storage = sealed_memory()
    await storage.put_many(
        [Record(hashed(VALUE), VALUE, "user_id"), Record("k-ctx", VALUE, "contexts")]
    )

    async with serve(storage, salts=EPOCHS) as stub:
        answer = await stub.find_subject(request(SubjectValue(value=VALUE, field_name="user_id")))

    assert [r.modified_value for r in answer.records] == [hashed(VALUE)]


async def test_found_both_ways_lists_both_and_a_named_pseudonym_too(serve: Serve) -> None:
    storage = sealed_memory()
    key = hashed(VALUE)
    await storage.put_many([Record(key, VALUE, "user_id"), Record("k-known", OTHER)])

    async with serve(storage, salts=EPOCHS) as stub:
        answer = await stub.find_subject(request(VALUE, keys=["k-known", "k-absent"]))

    found = {r.modified_value: r.found_by for r in answer.records}
    assert found == {key: ["blind_index", "snowplow_hash:2024"], "k-known": ["pseudonym"]}


async def test_candidates_holding_another_value_are_not_answered(serve: Serve) -> None:
    storage = sealed_memory(index_bits=4)  # 16 index values: collisions come quickly
    envelope = await storage.envelope()
    assert envelope.index is not None
    target = envelope.index(VALUE)
    collider = next(
        text
        for i in range(10_000)
        if envelope.index(text := f"colliding-{i}@example.org") == target
    )
    await storage.put_many(
        [
            Record("k-collision", collider, "user_id"),
            # A recomputed pseudonym whose record holds something else (a crafted write).
            Record(hashed(VALUE), OTHER, "user_id"),
        ]
    )

    async with serve(storage, salts=EPOCHS) as stub:
        answer = await stub.find_subject(request(VALUE))

    assert answer.records == []
    assert answer.complete


async def test_missing_justification_or_person_is_an_invalid_argument(serve: Serve) -> None:
    async with serve(sealed_memory()) as stub:
        for rpc in (stub.find_subject, stub.export_subject):
            for bad, says in (
                (request(VALUE, lawful_basis=LawfulBasis.UNSPECIFIED), "lawful_basis"),
                (request(VALUE, purpose=" "), "purpose"),
                (request(), "name the person"),
                (request(SubjectValue(value="  ")), "values[0].value is empty"),
                (
                    request(SubjectValue(value=VALUE, field_name="f" * 2049)),
                    "values[0].field_name is longer than 2048 characters",
                ),
            ):
                with pytest.raises(GRPCError) as caught:
                    await rpc(bad)
                assert caught.value.status is Status.INVALID_ARGUMENT
                assert says in (caught.value.message or "")


TOKEN = "reader-token-5d2a"


async def test_find_and_export_are_denied_by_default_and_the_refusal_is_audited(
    serve: Serve,
) -> None:
    policy = Policy.from_document(
        {
            "principals": {
                "reader": {
                    "token_sha256": [token_digest(TOKEN)],
                    "operations": ["read", "audit"],
                    "lawful_bases": ["legal_obligation"],
                }
            }
        }
    )
    audit = MemoryAuditStore()
    async with serve(sealed_memory(), auth=Authenticator(policy), audit=audit) as stub:
        for rpc in (stub.find_subject, stub.export_subject):
            with pytest.raises(GRPCError) as caught:
                await rpc(
                    request(VALUE, keys=["k1"]), metadata={"authorization": f"Bearer {TOKEN}"}
                )
            assert caught.value.status is Status.PERMISSION_DENIED
            assert "may not" in (caught.value.message or "")

    events = (await audit.query(AuditQuery(principal="reader"))).events
    assert [(e.operation, e.code, [k.modified_value for k in e.keys]) for e in events] == [
        ("find", Status.PERMISSION_DENIED.value, ["k1"]),
        ("export", Status.PERMISSION_DENIED.value, ["k1"]),
    ]


async def test_find_is_audited_with_each_key_and_its_outcome(serve: Serve) -> None:
    storage, audit = sealed_memory(), MemoryAuditStore()
    await storage.put_many([Record("k1", VALUE, "user_id")])

    async with serve(storage, audit=audit) as stub:
        await stub.find_subject(request(VALUE, keys=["k-absent"]))

    [event] = (await audit.query(AuditQuery(modified_value="k1"))).events
    assert (event.operation, event.lawful_basis, event.purpose) == (
        "find",
        LawfulBasis.LEGAL_OBLIGATION,
        "DSR-17",
    )
    [absent] = (await audit.query(AuditQuery(modified_value="k-absent"))).events
    assert absent.keys[0].code == Status.NOT_FOUND.value


async def test_without_the_audit_log_find_and_export_answer_nothing(serve: Serve) -> None:
    storage = sealed_memory()
    await storage.put_many([Record("k1", VALUE, "user_id")])

    async with serve(storage, audit=FailingAuditStore()) as stub:
        for rpc in (stub.find_subject, stub.export_subject):
            with pytest.raises(GRPCError) as caught:
                await rpc(request(VALUE))
            assert caught.value.status is Status.UNAVAILABLE


async def test_export_holds_originals_provenance_and_each_record_s_history(
    serve: Serve, log_output: Callable[[], str]
) -> None:
    storage, audit = sealed_memory(), MemoryAuditStore()
    key = hashed(VALUE)
    await storage.put_many(
        [Record(key, VALUE, "user_id", app_id="shop"), Record("k-ctx", VALUE, "contexts")]
    )
    async with serve(storage, audit=audit, salts=EPOCHS) as stub:
        await stub.read_pii_record(ReadPiiRecordRequest(modified_value=key, **JUSTIFIED))
        first = json.loads((await stub.export_subject(request(VALUE))).document)
        second = json.loads((await stub.export_subject(request(VALUE))).document)

    assert first["format"] == "piinguin.subject-export/1"
    assert (first["exported_by"], first["lawful_basis"], first["purpose"]) == (
        "anonymous",
        "legal_obligation",
        "DSR-17",
    )
    assert first["complete"]
    assert first["access_complete"]
    records = {r["modified_value"]: r for r in first["records"]}
    assert set(records) == {key, "k-ctx"}
    user = records[key]
    assert (user["original_value"], user["field_name"], user["app_id"]) == (
        VALUE,
        "user_id",
        "shop",
    )
    assert user["found_by"] == ["blind_index", "snowplow_hash:2024"]
    assert user["first_seen"] is not None
    assert user["expires_at"] is None
    # The export lists what came before it, never itself; the next one lists it.
    assert [a["operation"] for a in user["access"]] == ["read"]
    assert [a["operation"] for a in records["k-ctx"]["access"]] == []
    second_user = next(r for r in second["records"] if r["modified_value"] == key)
    assert [a["operation"] for a in second_user["access"]] == ["read", "export"]
    assert [(r["principal"], r["disclosures"]) for r in second["recipients"]] == [("anonymous", 3)]
    logs = log_output()
    assert VALUE not in logs
    assert VALUE.lower() not in logs
    assert SALT not in logs
