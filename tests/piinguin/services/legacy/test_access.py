"""Legacy calls authenticate like v1 calls, go through the same policy, and are audited.

A legacy read cannot tell a claimed CONSENT from an omitted basis, and carries no purpose:
the policy must allow legacy reads (``legacy_consent_reads``), a principal bound to a
purpose pattern cannot make them, and their audit events say ``legacy``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from piinguin.server import PiinguinServer
from piinguin.services.legacy import PURPOSE
from piinguin.services.legacy_protocol import SERVICE_NAME
from piinguin.v1 import LawfulBasis
from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.memory import MemoryAuditStore

from .original_client import BASES, Connect

pytestmark = [pytest.mark.socket, pytest.mark.parametrize("storage", ["memory"], indirect=True)]

EventsOf = Callable[[str], Awaitable[list[AuditEvent]]]
READ = f"/{SERVICE_NAME}/ReadPiiRecord"
READS = f"/{SERVICE_NAME}/ReadPiiRecords"
DENIED = 7  # PERMISSION_DENIED


def outcome(response: Any) -> tuple[bool, str]:
    return response.status.isSuccess, response.status.message


async def test_a_legacy_read_is_audited_as_legacy_consent(
    connect: Connect, events_of: EventsOf
) -> None:
    await connect("writer").create("key-1", "john@acme.com")

    response = await connect("reader").read("key-1")  # the basis left out: CONSENT

    assert response.piiRecord.originalValue == "john@acme.com"
    [event] = await events_of("reader")
    assert event.method == READ
    assert event.operation == "read"
    assert event.code == 0
    assert event.keys == (KeyOutcome("key-1", 0),)
    assert event.lawful_basis == LawfulBasis.CONSENT
    assert event.purpose == PURPOSE
    assert event.legacy is True


@pytest.mark.parametrize("basis", BASES)
async def test_each_original_basis_is_audited_as_its_v1_basis(
    connect: Connect, events_of: EventsOf, basis: str
) -> None:
    await connect("reader").read("key-1", basis)

    [event] = await events_of("reader")
    assert event.lawful_basis == LawfulBasis[basis]
    assert event.keys == (KeyOutcome("key-1", 5),)  # not stored
    assert event.legacy is True


async def test_a_stream_of_reads_is_audited_per_basis_claimed(
    connect: Connect, events_of: EventsOf
) -> None:
    reader = connect("reader")
    requests = [
        reader.read_request("a"),
        reader.read_request("b", "CONTRACT"),
        reader.read_request("c"),
    ]

    responses = await reader.stream(reader.stub.ReadPiiRecords, requests)

    assert len(responses) == 3
    # Messages that arrive together are read together, one event per basis claimed;
    # how many arrive together is up to the transport.
    events = await events_of("reader")
    audited = {(event.lawful_basis, key.modified_value) for event in events for key in event.keys}
    assert audited == {
        (LawfulBasis.CONSENT, "a"),
        (LawfulBasis.CONTRACT, "b"),
        (LawfulBasis.CONSENT, "c"),
    }
    assert sum(len(event.keys) for event in events) == 3
    assert {(event.method, event.legacy, event.purpose) for event in events} == {
        (READS, True, PURPOSE)
    }


async def test_a_principal_without_legacy_reads_is_denied_in_band_and_audited(
    connect: Connect, events_of: EventsOf, log_output: Callable[[], str]
) -> None:
    await connect("writer").create("key-1", "john@acme.com")

    response = await connect("modern").read("key-1")

    assert outcome(response) == (
        False,
        "permission denied: principal 'modern' may not read through the legacy API",
    )
    assert not response.HasField("piiRecord")
    [event] = await events_of("modern")
    assert event.code == DENIED
    assert event.keys == (KeyOutcome("key-1", DENIED),)
    assert event.lawful_basis == LawfulBasis.CONSENT
    assert event.purpose == PURPOSE
    assert event.legacy is True
    assert "john@acme.com" not in log_output()


async def test_a_principal_bound_to_a_purpose_pattern_cannot_read_through_legacy(
    connect: Connect, events_of: EventsOf
) -> None:
    await connect("writer").create("key-1", "john@acme.com")

    # Its pattern ".*" would match the stand-in purpose: the policy must refuse regardless.
    response = await connect("patterned").read("key-1")

    assert outcome(response) == (
        False,
        "permission denied: principal 'patterned' needs a purpose; the legacy API sends none",
    )
    [event] = await events_of("patterned")
    assert (event.code, event.legacy) == (DENIED, True)


async def test_a_denied_stream_answers_every_message_and_goes_on(connect: Connect) -> None:
    reader = connect("reader")  # may read, not write

    responses = await reader.lockstep(
        reader.stub.CreatePiiRecords, [reader.create_request(f"k{i}", "v") for i in range(3)]
    )

    assert [outcome(r) for r in responses] == [
        (False, "permission denied: principal 'reader' may not write")
    ] * 3


async def test_writes_and_deletes_need_their_operations(
    connect: Connect, events_of: EventsOf
) -> None:
    writer, reader = connect("writer"), connect("reader")

    answers = [
        await writer.read("key-1"),
        await reader.delete("key-1"),
        await reader.create("key-2", "john@acme.com"),
    ]

    assert [outcome(a) for a in answers] == [
        (False, "permission denied: principal 'writer' may not read"),
        (False, "permission denied: principal 'reader' may not delete"),
        (False, "permission denied: principal 'reader' may not write"),
    ]
    refused = [*await events_of("writer"), *await events_of("reader")]
    assert [(e.operation, e.code, e.keys, e.legacy) for e in refused] == [
        ("read", DENIED, (KeyOutcome("key-1", DENIED),), True),
        ("delete", DENIED, (KeyOutcome("key-1", DENIED),), True),
        ("write", DENIED, (KeyOutcome("key-2", DENIED),), True),
    ]


async def test_legacy_deletes_are_audited_as_legacy(connect: Connect, events_of: EventsOf) -> None:
    writer = connect("writer")
    await writer.create("key-1", "john@acme.com")

    single = await writer.delete("key-1")
    streamed = await writer.stream(writer.stub.DeletePiiRecords, [writer.delete_request("key-2")])

    assert [outcome(a) for a in [single, *streamed]] == [(True, "")] * 2
    assert [(e.method, e.operation, e.keys, e.legacy) for e in await events_of("writer")] == [
        (f"/{SERVICE_NAME}/DeletePiiRecord", "delete", (KeyOutcome("key-1", 0),), True),
        (f"/{SERVICE_NAME}/DeletePiiRecords", "delete", (KeyOutcome("key-2", 0),), True),
    ]


@pytest.mark.parametrize("token", [None, "not-a-known-token"])
async def test_unauthenticated_calls_fail_with_a_grpc_status_and_are_audited_as_legacy(
    connect: Connect, audit: MemoryAuditStore, token: str | None
) -> None:
    client = connect(None, token=token)

    with pytest.raises(grpc.RpcError) as unary:
        await client.read("key-1")
    with pytest.raises(grpc.RpcError) as stream:
        await client.stream(client.stub.DeletePiiRecords, [client.delete_request("key-1")])

    assert unary.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert stream.value.code() is grpc.StatusCode.UNAUTHENTICATED
    page = await audit.query(AuditQuery(since=datetime(2000, 1, 1, tzinfo=UTC)))
    assert [(e.principal, e.operation, e.legacy) for e in page.events] == [
        ("", "read", True),
        ("", "delete", True),
    ]


async def test_the_legacy_service_reports_health(server: PiinguinServer) -> None:
    assert server.port is not None
    channel = Channel("127.0.0.1", server.port)
    try:
        reply = await HealthStub(channel).Check(HealthCheckRequest(service=SERVICE_NAME))
    finally:
        channel.close()

    assert reply.status == HealthCheckResponse.SERVING
