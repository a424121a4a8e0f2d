"""Floods of calls that fail authentication: each audited on its own within a budget per
peer address and second, the rest of the second as one event with their exact count."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.unauthenticated import UnauthenticatedAudit, peer_address
from piinguin.client import LawfulBasis, PiinguinClient, Unauthenticated
from piinguin.options import OptionError
from piinguin.server.config import ServerConfig
from storage.audit import AuditEvent
from tests.conftest import running_server
from tests.doubles import RecordingAudit, WatchedAudit
from tests.dynamodb_fixtures import dynamodb_client
from tests.storage.audit_events import audit_store_on, fresh_audit_table
from tests.storage.dynamodb.test_audit import all_items

from .conftest import TOKENS

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

KEY = "27abac60dff12792c6088b8d00ce7f25c86b396b8c3740480cd18e21068ecff4"


@pytest.fixture
async def dynamodb(moto_endpoint: str) -> AsyncIterator[DynamoDBClient]:
    async with dynamodb_client(moto_endpoint) as client:
        yield client


@pytest.fixture
async def audit_table(dynamodb: DynamoDBClient) -> AsyncIterator[str]:
    async with fresh_audit_table(dynamodb) as table_name:
        yield table_name


async def refused(client: PiinguinClient) -> None:
    with pytest.raises(Unauthenticated):
        await client.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-1")


def total(events: list[AuditEvent]) -> int:
    return sum(event.calls for event in events)


@pytest.mark.socket
async def test_a_flood_writes_the_budget_and_one_event_a_second_and_counts_every_call(
    dynamodb: DynamoDBClient, audit_table: str, policy_file: Path
) -> None:
    # Scaled down from 6,000 calls against a budget of 100 a second.
    calls, budget = 600, 20
    audit = WatchedAudit(audit_store_on(dynamodb, audit_table))
    loop = asyncio.get_running_loop()
    async with running_server(
        auth=Authenticator.from_file(policy_file),
        audit=audit,
        unauthenticated_audit_budget=budget,
    ) as server:
        target = f"127.0.0.1:{server.port}"
        started = loop.time()
        async with PiinguinClient(target, token="not-a-token") as client:
            await asyncio.gather(*(refused(client) for _ in range(calls)))
        seconds = int(loop.time()) - int(started) + 1  # the seconds the flood touched
        # No call comes any more: the last second's count is written all the same.
        await audit.wait_for(lambda events: total(events) == calls)
        async with PiinguinClient(target, token=TOKENS["auditor"]) as auditor:
            listed = await auditor.list_audit_events(since=datetime.now(UTC) - timedelta(1))

    flood = [e for e in audit.appended if e.principal == ""]  # not the auditor's listing
    one_by_one = [e for e in flood if e.calls == 1]
    counted = [e for e in flood if e.calls > 1]
    assert budget <= len(one_by_one) <= budget * seconds
    assert 1 <= len(counted) <= seconds
    assert len({e.request_id for e in one_by_one}) == len(one_by_one)
    assert {e.code for e in flood} == {16}  # UNAUTHENTICATED
    assert {e.peer for e in counted} == {"127.0.0.1"}
    # What landed: one item a flood event (no principal, no keys), the listing's two (its
    # home and its principal's pointer), and the day's index item.
    assert len(await all_items(dynamodb, audit_table)) == len(flood) + 2 + 1
    assert sorted(e.calls for e in listed.events if e.calls > 1) == sorted(e.calls for e in counted)


@pytest.mark.socket
async def test_a_flood_logs_a_call_line_only_for_the_calls_audited_one_by_one(
    policy_file: Path, log_output: Callable[[], str]
) -> None:
    calls, budget = 300, 10
    audit = RecordingAudit()
    loop = asyncio.get_running_loop()
    async with running_server(
        auth=Authenticator.from_file(policy_file),
        audit=audit,
        unauthenticated_audit_budget=budget,
    ) as server:
        started = loop.time()
        async with PiinguinClient(f"127.0.0.1:{server.port}", token="not-a-token") as client:
            await asyncio.gather(*(refused(client) for _ in range(calls)))
        seconds = int(loop.time()) - int(started) + 1

    lines = [json.loads(line) for line in log_output().splitlines() if line.startswith("{")]
    refusals = [
        line for line in lines if line["event"] == "call" and line["code"] == "UNAUTHENTICATED"
    ]
    one_by_one = [e for e in audit.appended if e.calls == 1]
    # A line for each call audited on its own; the counted rest stand in their events.
    assert budget <= len(refusals) == len(one_by_one) <= budget * seconds
    assert len(refusals) < calls
    assert {line["request_id"] for line in refusals} == {e.request_id for e in one_by_one}
    assert sum(e.calls for e in audit.appended) == calls


@pytest.mark.socket
async def test_counted_calls_are_written_when_the_server_drains(policy_file: Path) -> None:
    audit = RecordingAudit()
    async with (
        running_server(
            auth=Authenticator.from_file(policy_file), audit=audit, unauthenticated_audit_budget=0
        ) as server,
        PiinguinClient(f"127.0.0.1:{server.port}", token="nope") as client,
    ):
        await asyncio.gather(*(refused(client) for _ in range(30)))

    assert total(audit.appended) == 30
    assert all(e.calls > 1 for e in audit.appended)


T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def event(peer: str, request_id: str) -> AuditEvent:
    return AuditEvent("e-" + request_id, T0, "", "read", "/m", 16,
                      request_id=request_id, peer=peer)  # fmt: skip


async def test_each_address_has_its_own_budget_and_close_writes_what_is_counted() -> None:
    written: list[AuditEvent] = []

    async def write(event: AuditEvent) -> None:
        written.append(event)

    # A window of a minute: only close() can end it within the test.
    budget = UnauthenticatedAudit(write, 2, window=60)
    for n in range(5):
        await budget.record(event(f"10.0.0.1:{5000 + n}", f"a{n}"))
    await budget.record(event("::1:6000", "b0"))
    assert [e.request_id for e in written] == ["a0", "a1", "b0"]

    await budget.close()

    assert written[3:] == [event("10.0.0.1:5002", "a2")._replace(peer="10.0.0.1", calls=3)]
    await budget.close()  # nothing more to write
    assert len(written) == 4


@pytest.mark.parametrize(
    ("peer", "address"),
    [("10.0.0.7:53122", "10.0.0.7"), ("::1:53122", "::1"), ("unknown", "unknown")],
)
def test_peer_address(peer: str, address: str) -> None:
    assert peer_address(peer) == address


def test_the_budget_is_a_flag_with_an_environment_twin() -> None:
    flag = ["--insecure-no-auth", "--unauthenticated-audit-budget", "7"]
    assert ServerConfig.from_args(flag, {}).unauthenticated_audit_budget == 7
    environ = {"PIINGUIN_UNAUTHENTICATED_AUDIT_BUDGET": "0"}
    assert ServerConfig.from_args(["--insecure-no-auth"], environ).unauthenticated_audit_budget == 0
    assert ServerConfig.from_args(["--insecure-no-auth"], {}).unauthenticated_audit_budget == 100
    with pytest.raises(OptionError, match="--unauthenticated-audit-budget: must be between 0"):
        ServerConfig(insecure_no_auth=True, unauthenticated_audit_budget=-1)
