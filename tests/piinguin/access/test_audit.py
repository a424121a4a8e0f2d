"""Every read, delete, listing and refusal leaves an audit event; reads fail closed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from grpclib.const import Status

from piinguin import v1
from piinguin.access.auth import Authenticator
from piinguin.client import LawfulBasis, PermissionDenied, PiinguinClient, PiiRecord, Unavailable
from storage import Record
from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.memory import MemoryAuditStore
from tests.conftest import ServerFactory
from tests.doubles import FailingAuditStore, UnreachableAudit

from .conftest import Vault

pytestmark = pytest.mark.socket

ORIGINALS = {f"key-{i:02d}": f"audit-canary-{i}@example.org" for i in range(12)}


async def stock(vault: Vault) -> None:
    await vault.storage.put_many([Record(k, v) for k, v in ORIGINALS.items()])


def events(vault: Vault) -> list[AuditEvent]:
    return list(vault.audit.appended)


async def test_n_reads_make_exactly_n_events_with_the_right_fields(vault: Vault) -> None:
    await stock(vault)
    keys = [*ORIGINALS][:5]

    async with vault.as_("support") as client:
        for key in keys:
            await client.read_record(key, basis=LawfulBasis.CONTRACT, purpose="ticket-9")

    got = events(vault)
    assert len(got) == 5
    for key, event in zip(keys, got, strict=True):
        assert event.principal == "support"
        assert event.operation == "read"
        assert event.method == "/piinguin.v1.Piinguin/ReadPiiRecord"
        assert event.code == 0
        assert [(k.modified_value, k.code) for k in event.keys] == [(key, 0)]
        assert (event.lawful_basis, event.purpose) == (LawfulBasis.CONTRACT, "ticket-9")
        assert event.request_id
        assert event.peer.startswith("127.0.0.1:")
        assert event.time.tzinfo is not None
    assert len({e.event_id for e in got}) == 5


async def test_bulk_read_records_each_key_with_its_own_outcome(vault: Vault) -> None:
    await stock(vault)

    async with vault.as_("support") as client:
        await client.read_records(
            ["key-01", "missing", "", "key-02"], basis=LawfulBasis.CONSENT, purpose="ticket-3"
        )

    [event] = events(vault)
    assert [(k.modified_value, k.code) for k in event.keys] == [
        ("key-01", 0),
        ("missing", Status.NOT_FOUND.value),
        ("key-02", 0),
    ]


async def test_misses_and_deletes_are_audited(vault: Vault) -> None:
    await stock(vault)

    async with vault.as_("support") as reader, vault.as_("eraser") as eraser:
        with pytest.raises(Exception, match="no record"):
            await reader.read_record("nope", basis=LawfulBasis.CONSENT, purpose="ticket-1")
        await eraser.delete_record("key-03")
        await eraser.delete_records(["key-04", "key-05"])

    got = events(vault)
    assert [(e.operation, e.code, [k.code for k in e.keys]) for e in got] == [
        ("read", Status.NOT_FOUND.value, [Status.NOT_FOUND.value]),
        ("delete", 0, [0]),
        ("delete", 0, [0, 0]),
    ]


async def test_the_request_id_of_the_caller_is_kept(vault: Vault) -> None:
    await stock(vault)
    client = vault.client(token="support-token-77c1", metadata={"x-request-id": "req-123"})
    async with client:
        await client.read_record("key-01", basis=LawfulBasis.CONSENT, purpose="ticket-1")

    assert events(vault)[0].request_id == "req-123"


@pytest.mark.parametrize("bulk", [False, True])
async def test_a_read_whose_event_cannot_be_stored_fails_with_no_pii(
    start_server: ServerFactory, vault: Vault, bulk: bool, log_output: Callable[[], str]
) -> None:
    await stock(vault)
    async with (
        start_server(
            vault.storage, auth=Authenticator.insecure(), audit=FailingAuditStore()
        ) as server,
        PiinguinClient(f"127.0.0.1:{server.port}") as client,
    ):
        call = (
            client.read_records(["key-01"], basis=LawfulBasis.CONSENT, purpose="p")
            if bulk
            else client.read_record("key-01", basis=LawfulBasis.CONSENT, purpose="p")
        )
        with pytest.raises(Unavailable) as failure:
            await call

    assert failure.value.message == "the audit log is unavailable"
    assert ORIGINALS["key-01"] not in str(failure.value)
    assert ORIGINALS["key-01"] not in log_output()


async def test_a_delete_whose_event_cannot_be_stored_stands_and_answers_ok(
    start_server: Callable[..., object], vault: Vault, log_output: Callable[[], str]
) -> None:
    from piinguin.access.auth import Authenticator
    from piinguin.client import PiinguinClient

    await stock(vault)
    async with (
        start_server(  # type: ignore[attr-defined]
            vault.storage, auth=Authenticator.insecure(), audit=FailingAuditStore()
        ) as server,
        PiinguinClient(f"127.0.0.1:{server.port}") as client,
    ):
        await client.delete_record("key-01")
        results = await client.delete_records(["key-02", "", "key-03"])

    # Answered as it happened: the records are gone, the bad key alone is refused.
    assert [(r.ok, r.status) for r in results] == [
        (True, Status.OK),
        (False, Status.INVALID_ARGUMENT),
        (True, Status.OK),
    ]
    assert await vault.storage.get_many(["key-01", "key-02", "key-03"]) == [None] * 3
    lines = [json.loads(line) for line in log_output().splitlines()]
    audits = [line for line in lines if line["event"] == "audit"]
    failures = [line for line in lines if line.get("store") == "the audit log"]
    assert [(a["operation"], a["code"], a["keys"]) for a in audits] == [
        ("delete", "OK", [["key-01", "OK"]]),
        ("delete", "OK", [["key-02", "OK"], ["key-03", "OK"]]),
    ]
    assert [f["event_id"] for f in failures] == [a["event_id"] for a in audits]
    assert not any(v in log_output() for v in ORIGINALS.values())


async def test_a_refusal_records_only_the_keys_that_are_keys(
    vault: Vault, log_output: Callable[[], str]
) -> None:
    # A read-many line sent as a key, value and all, by a principal that may not delete.
    line = "key-01\taudit-canary-01@example.org"

    async with vault.as_("support") as client:
        with pytest.raises(Exception, match="may not delete"):
            await client.delete_records(["key-02", line, "", "k" * 3000])

    [event] = events(vault)
    assert [(k.modified_value, k.code) for k in event.keys] == [
        ("key-02", Status.PERMISSION_DENIED.value)
    ]
    assert "audit-canary" not in log_output()


async def test_a_denial_stands_when_the_audit_store_fails(
    start_server: ServerFactory, policy_file: Path
) -> None:
    async with (
        start_server(
            auth=Authenticator.from_file(policy_file), audit=FailingAuditStore()
        ) as server,
        PiinguinClient(f"127.0.0.1:{server.port}", token="relay-token-3f9a") as client,
    ):
        with pytest.raises(PermissionDenied):
            await client.read_record("k", basis=LawfulBasis.CONSENT, purpose="p")


async def test_audit_events_are_also_logged_to_the_audit_logger(
    vault: Vault, log_output: Callable[[], str]
) -> None:
    await stock(vault)
    async with vault.as_("support") as client:
        await client.read_record("key-07", basis=LawfulBasis.CONSENT, purpose="ticket-2")

    lines = [json.loads(line) for line in log_output().splitlines()]
    [audit] = [line for line in lines if line["event"] == "audit"]
    assert audit["principal"] == "support"
    assert audit["keys"] == [["key-07", "OK"]]
    assert ORIGINALS["key-07"] not in log_output()


async def collect(client: PiinguinClient, **filters: Any) -> list[v1.AuditEvent]:
    return [event async for event in client.audit_events(**filters)]


async def test_list_audit_events_by_key_principal_time_and_pages(vault: Vault) -> None:
    await stock(vault)
    before = datetime.now(UTC)
    async with vault.as_("support") as support, vault.client(cert=vault.pki.dpo) as dpo:
        for _ in range(3):
            await support.read_record("key-01", basis=LawfulBasis.CONSENT, purpose="ticket-5")
        await dpo.read_record("key-01", basis=LawfulBasis.LEGAL_OBLIGATION, purpose="order 1")
        await support.read_record("key-02", basis=LawfulBasis.CONSENT, purpose="ticket-6")

    async with vault.as_("auditor") as auditor:
        by_key = await collect(auditor, modified_value="key-01", page_size=2)
        by_principal = await collect(auditor, principal="dpo")
        by_both = await collect(auditor, modified_value="key-01", principal="support")
        in_range = await collect(auditor, since=before, until=datetime.now(UTC) + timedelta(1))
        empty = await collect(auditor, since=datetime.now(UTC) + timedelta(days=1))
        first = await auditor.list_audit_events(modified_value="key-01", page_size=2)

    # A key's history includes who listed it: the auditor's own listings show up as they
    # happen, after the reads.
    reads = [e for e in by_key if e.operation == "read"]
    assert {e.operation for e in by_key[len(reads) :]} == {"audit"}
    assert [(e.principal, e.purpose) for e in reads] == [
        ("support", "ticket-5"),
        ("support", "ticket-5"),
        ("support", "ticket-5"),
        ("dpo", "order 1"),
    ]
    assert len(first.events) == 2
    assert first.next_page_token
    assert [e.lawful_basis for e in by_principal] == [LawfulBasis.LEGAL_OBLIGATION]
    assert len(by_both) == 3
    assert [e.operation for e in in_range][:5] == ["read"] * 5
    assert empty == []
    # the auditor's own listings are audited too
    listings = [e for e in events(vault) if e.operation == "audit"]
    assert len(listings) == 8  # three pages by key, one per other listing
    assert {e.principal for e in listings} == {"auditor"}


@pytest.mark.parametrize(
    ("filters", "problem"),
    [
        ({}, "give a modified_value, a principal or a time range"),
        ({"principal": "x", "page_size": 1001}, "page_size is over 1000"),
        ({"principal": "x", "page_token": "bogus"}, "page_token is not valid"),
    ],
)
async def test_list_audit_events_rejects_bad_queries(
    vault: Vault, filters: dict[str, Any], problem: str
) -> None:
    from piinguin.client import InvalidArgument

    async with vault.as_("auditor") as auditor:
        with pytest.raises(InvalidArgument, match=problem):
            await auditor.list_audit_events(**filters)


async def test_memory_audit_store_pages_consistently() -> None:
    store = MemoryAuditStore()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(7):
        await store.append(
            AuditEvent(
                event_id=str(i),
                time=start + timedelta(seconds=i),
                principal="p",
                operation="read",
                method="m",
                code=0,
            )
        )
    seen: list[str] = []
    token = ""
    while True:
        page: AuditPage = await store.query(AuditQuery(principal="p", limit=3, page_token=token))
        seen.extend(e.event_id for e in page.events)
        token = page.next_page_token
        if not token:
            break
    assert seen == [str(i) for i in range(7)]


def _writes_are_unaudited(events_: Sequence[AuditEvent]) -> bool:
    return all(e.operation != "write" for e in events_)


async def test_successful_writes_are_not_audited_but_denied_ones_are(vault: Vault) -> None:
    async with vault.as_("relay") as relay, vault.as_("support") as support:
        await relay.create_record(PiiRecord(modified_value="w1", original_value="x"))
        with pytest.raises(Exception, match="may not write"):
            await support.create_record(PiiRecord(modified_value="w2", original_value="y"))

    [denied] = events(vault)
    assert (denied.operation, denied.principal, denied.code) == (
        "write",
        "support",
        Status.PERMISSION_DENIED.value,
    )
    assert [k.modified_value for k in denied.keys] == ["w2"]


async def test_the_cli_answers_who_accessed_a_key(
    vault: Vault, log_output: Callable[[], str]
) -> None:
    import io

    from piinguin.cli.main import main

    await stock(vault)
    async with vault.as_("support") as client:
        await client.read_record("key-01", basis=LawfulBasis.CONTRACT, purpose="ticket-8")
    out, err = io.StringIO(), io.StringIO()
    environ = {"PIINGUIN_TOKEN": "auditor-token-9e0f", "PIINGUIN_TARGET": vault.target}

    code = await main(
        ["--tls-ca", vault.pki.ca.cert, "audit", "--key", "key-01", "--since", "2020-01-01"],
        environ,
        stdout=out,
        stderr=err,
    )

    assert (code, err.getvalue()) == (0, "")
    [line] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert line["principal"] == "support"
    assert line["keys"] == {"key-01": "OK"}
    assert (line["lawful_basis"], line["purpose"]) == ("contract", "ticket-8")
    # The audit log line names the basis as the CLI prints it.
    logged = [json.loads(x) for x in log_output().splitlines()]
    [read_line] = [x for x in logged if x["event"] == "audit" and x["operation"] == "read"]
    [listing_line] = [x for x in logged if x["event"] == "audit" and x["operation"] == "audit"]
    assert (read_line["lawful_basis"], listing_line["lawful_basis"]) == ("contract", "unspecified")


async def test_listing_from_an_unreachable_audit_log_is_unavailable(
    start_server: ServerFactory, log_output: Callable[[], str]
) -> None:
    async with (
        start_server(auth=Authenticator.insecure(), audit=UnreachableAudit()) as server,
        PiinguinClient(f"127.0.0.1:{server.port}") as client,
    ):
        with pytest.raises(Unavailable) as failure:
            await client.list_audit_events(principal="anyone")

    assert failure.value.message == "the audit log is unavailable"
    [line] = [json.loads(x) for x in log_output().splitlines() if "storage_unavailable" in x]
    assert line["store"] == "the audit log"
