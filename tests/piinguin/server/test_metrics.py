"""``/metrics``: what a scrape shows after real calls over real sockets, and never a key,
a value, a token or a principal in it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import token_digest
from piinguin.client import (
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiiRecord,
    RecordNotFound,
    Unauthenticated,
    Unavailable,
)
from piinguin.options import OptionError
from piinguin.server import PiinguinServer
from piinguin.server.config import ServerConfig
from piinguin.server.metrics import Endpoint, Metrics
from storage import MemoryStorage, StorageUnavailable
from storage.memory import MemoryAuditStore
from tests.conftest import ServerFactory, scrape
from tests.doubles import FailingAuditStore, SlowStorage

from .conftest import BIN, free_port, running

pytestmark = pytest.mark.socket

KEY = "5f4dcc3b5aa765d61d8327deb882cf99" * 2
ORIGINAL = "ada@example.com"
MISSING = "0" * 64
WRITER, READER = "writer-token-a1", "reader-token-b2"
READ = "/piinguin.v1.Piinguin/ReadPiiRecord"
CREATE = "/piinguin.v1.Piinguin/CreatePiiRecord"
CREATE_BULK = "/piinguin.v1.Piinguin/CreatePiiRecords"


@pytest.fixture
def policy(tmp_path: Path) -> Authenticator:
    path = tmp_path / "policy.toml"
    path.write_text(
        f"""
[principals.writer]
token_sha256 = ["{token_digest(WRITER)}"]
operations = ["write"]

[principals.reader]
token_sha256 = ["{token_digest(READER)}"]
operations = ["read"]
lawful_bases = ["consent"]
purpose_pattern = '^ticket-[0-9]+$'
"""
    )
    return Authenticator.from_file(path)


def client(server: PiinguinServer, token: str | None = None) -> PiinguinClient:
    return PiinguinClient(f"127.0.0.1:{server.port}", token=token)


async def test_a_scrape_counts_calls_by_method_and_code_and_denials_by_reason(
    start_server: ServerFactory, policy: Authenticator
) -> None:
    metrics = Metrics()
    endpoint = Endpoint(metrics.registry, "127.0.0.1", 0)
    try:
        async with start_server(auth=policy, metrics=metrics) as server:
            async with client(server, WRITER) as writer:
                await writer.create_record(PiiRecord(modified_value=KEY, original_value=ORIGINAL))
                await writer.create_records(
                    [PiiRecord(modified_value=f"{i}{KEY[1:]}", original_value="x") for i in "123"]
                )
                with pytest.raises(PermissionDenied):  # may not read at all
                    await writer.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-1")
            async with client(server, READER) as reader:
                for _ in range(3):
                    await reader.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-7")
                with pytest.raises(RecordNotFound):
                    await reader.read_record(MISSING, basis=LawfulBasis.CONSENT, purpose="ticket-7")
                with pytest.raises(PermissionDenied):
                    await reader.read_record(KEY, basis=LawfulBasis.CONTRACT, purpose="ticket-7")
                with pytest.raises(PermissionDenied):
                    await reader.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="curious")
            async with client(server, "not-a-token") as stranger:
                with pytest.raises(Unauthenticated):
                    await stranger.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-7")
            seen = await scrape(endpoint.port)
    finally:
        await asyncio.to_thread(endpoint.close)

    def calls(method: str, code: str) -> float | None:
        return seen.value("piinguin_calls_total", method=method, code=code)

    assert calls(READ, "OK") == 3
    assert calls(READ, "NOT_FOUND") == 1
    assert calls(READ, "PERMISSION_DENIED") == 3
    assert calls(READ, "UNAUTHENTICATED") == 1
    assert calls(READ, "UNAVAILABLE") is None  # a code only appears once it happened
    assert calls(CREATE, "OK") == 1
    assert calls(CREATE_BULK, "OK") == 1
    denials = {
        reason: seen.value("piinguin_denials_total", reason=reason)
        for reason in ("unauthenticated", "operation", "legacy_api", "lawful_basis", "purpose")
    }
    assert denials == {
        "unauthenticated": 1,
        "operation": 1,
        "legacy_api": 0,
        "lawful_basis": 1,
        "purpose": 1,
    }
    assert seen.value("piinguin_call_duration_seconds_count", method=READ) == 8
    assert seen.value("piinguin_call_duration_seconds_bucket", method=READ, le="+Inf") == 8
    assert seen.value("piinguin_bulk_call_items_count", method=CREATE_BULK) == 1
    assert seen.value("piinguin_bulk_call_items_sum", method=CREATE_BULK) == 3
    assert seen.value("piinguin_bulk_call_items_count", method=CREATE) is None  # not bulk
    assert seen.value("piinguin_calls_in_flight") == 0
    assert seen.value("piinguin_storage_ready") == 1
    assert seen.value("piinguin_audit_failures_total") == 0
    for secret in (KEY, KEY[1:], ORIGINAL, MISSING, WRITER, READER, "not-a-token", "ticket-7"):
        assert secret not in seen.text
    for principal in ("writer", "reader"):
        assert principal not in seen.text


async def test_audit_events_the_store_refuses_are_counted(start_server: ServerFactory) -> None:
    metrics = Metrics()
    endpoint = Endpoint(metrics.registry, "127.0.0.1", 0)
    storage = MemoryStorage()
    try:
        async with (
            start_server(
                storage, audit=FailingAuditStore(StorageUnavailable), metrics=metrics
            ) as server,
            client(server) as anyone,
        ):
            await anyone.create_record(PiiRecord(modified_value=KEY, original_value=ORIGINAL))
            for _ in range(2):
                with pytest.raises(Unavailable):  # nothing personal leaves unaudited
                    await anyone.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="p")
            seen = await scrape(endpoint.port)
    finally:
        await asyncio.to_thread(endpoint.close)

    assert seen.value("piinguin_audit_failures_total") == 2
    assert seen.value("piinguin_calls_total", method=READ, code="UNAVAILABLE") == 2


async def test_readiness_follows_health_and_calls_in_flight_are_counted() -> None:
    metrics = Metrics()
    endpoint = Endpoint(metrics.registry, "127.0.0.1", 0)
    storage = SlowStorage()
    try:
        async with PiinguinServer(
            storage,
            auth=Authenticator.insecure(),
            audit=MemoryAuditStore(),
            max_bulk_items=10,
            max_message_bytes=1 << 20,
            metrics=metrics,
        ) as server:
            assert (await scrape(endpoint.port)).value("piinguin_storage_ready") == 0
            await server.wait_ready()
            assert (await scrape(endpoint.port)).value("piinguin_storage_ready") == 1

            async with client(server) as anyone:
                writing = asyncio.create_task(
                    anyone.create_record(PiiRecord(modified_value=KEY, original_value=ORIGINAL))
                )
                await storage.entered.wait()
                assert (await scrape(endpoint.port)).value("piinguin_calls_in_flight") == 1
                storage.release.set()
                await writing
            assert (await scrape(endpoint.port)).value("piinguin_calls_in_flight") == 0

            await server.drain()
            assert (await scrape(endpoint.port)).value("piinguin_storage_ready") == 0
    finally:
        await asyncio.to_thread(endpoint.close)


async def test_piinguin_server_serves_metrics_on_the_metrics_port() -> None:
    port, metrics_port = free_port(), free_port()
    argv = [str(BIN / "piinguin-server"), "--port", str(port), "--insecure-no-auth"]
    env = {"PIINGUIN_METRICS_PORT": str(metrics_port)}
    async with running(argv, port, env=env):
        async with PiinguinClient(f"127.0.0.1:{port}") as anyone:
            await anyone.create_record(PiiRecord(modified_value=KEY, original_value=ORIGINAL))
        seen = await scrape(metrics_port)
    assert seen.value("piinguin_calls_total", method=CREATE, code="OK") == 1
    assert seen.value("piinguin_storage_ready") == 1
    assert ORIGINAL not in seen.text
    assert KEY not in seen.text


def test_metrics_are_off_unless_a_port_is_given_and_the_port_is_checked() -> None:
    assert ServerConfig.from_args(["--insecure-no-auth"], {}).metrics_port is None
    given = ServerConfig.from_args(["--insecure-no-auth"], {"PIINGUIN_METRICS_PORT": "9464"})
    assert given.metrics_port == 9464
    with pytest.raises(OptionError, match="--metrics-port: must be between 0 and 65535"):
        ServerConfig.from_args(["--insecure-no-auth", "--metrics-port", "70000"], {})
    with pytest.raises(OptionError, match=r"--metrics-port: must differ from --port \(9000\)"):
        ServerConfig.from_args(
            ["--insecure-no-auth", "--port", "9000", "--metrics-port", "9000"], {}
        )
