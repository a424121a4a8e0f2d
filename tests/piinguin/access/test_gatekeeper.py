"""Audit events carry the operation the handler names, whatever the method is called."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Caller
from piinguin.access.context import CallContext, enter_call, leave_call
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Grant
from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.memory import MemoryAuditStore

#: A method name no operation could be read from.
METHOD = "/example.Elsewhere/Frobnicate"
READER = Grant("reader", frozenset({"read"}), frozenset({1}))


@pytest.fixture
def calling() -> Iterator[None]:
    token = enter_call(CallContext(METHOD, "peer", "request-1", Caller("reader", READER, "token")))
    yield
    leave_call(token)


async def events(store: MemoryAuditStore) -> list[AuditEvent]:
    return list((await store.query(AuditQuery(principal="reader"))).events)


@pytest.mark.usefixtures("calling")
async def test_a_refusal_is_audited_as_the_operation_the_handler_names() -> None:
    store = MemoryAuditStore()
    gate = Gatekeeper(Auditor(store))

    with pytest.raises(GRPCError) as refused:
        await gate.require("delete", ["k1"])

    assert refused.value.status is Status.PERMISSION_DENIED
    [event] = await events(store)
    assert (event.operation, event.method) == ("delete", METHOD)


@pytest.mark.usefixtures("calling")
async def test_a_refused_read_is_audited_as_a_read() -> None:
    store = MemoryAuditStore()
    gate = Gatekeeper(Auditor(store))

    with pytest.raises(GRPCError):
        await gate.require_read(2, "purpose", ["k1"])  # a basis the grant lacks

    [event] = await events(store)
    assert (event.operation, event.lawful_basis) == ("read", 2)


@pytest.mark.usefixtures("calling")
async def test_a_recorded_call_is_audited_as_the_operation_the_handler_names() -> None:
    store = MemoryAuditStore()
    gate = Gatekeeper(Auditor(store))

    await gate.record("audit", Status.OK, [KeyOutcome("k1", 0)])

    [event] = await events(store)
    assert (event.operation, event.code, event.keys) == ("audit", 0, (KeyOutcome("k1", 0),))
