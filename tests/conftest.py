"""Fixtures and server helpers shared by every test folder.

- Every test's logs go, fully rendered as JSON, to a buffer: ``log_output`` reads it,
  so tests can check that no original value ever reaches a log line.
- ``running_server`` (fixture ``start_server``) runs a real ``PiinguinServer`` on a loopback
  socket, built as the entry point builds it; without ``auth`` it runs as
  ``--insecure-no-auth`` does, so tests of other concerns need no tokens. ``running_vault``
  adds the storage under it and every call it received.
- ``running_entry_point`` runs the entry point's own ``serve()`` in this process.
- ``scrape`` reads a server's ``/metrics``.
- ``moto_endpoint``: one moto server for the session, started by the first test that asks;
  ``tests/dynamodb_fixtures.py`` has the clients and tables to use with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import ssl
import sysconfig
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, Self, TypeVar

import pytest
from grpclib.client import Channel
from grpclib.events import RecvRequest, listen
from prometheus_client.parser import text_string_to_metric_families

from piinguin.access.auth import Authenticator
from piinguin.logs import configure_logging
from piinguin.receipts import ReceiptSigner
from piinguin.server import PiinguinServer
from piinguin.server.config import ServerConfig
from piinguin.server.guard.limits import WireLimits
from piinguin.server.main import serve
from piinguin.server.metrics import Metrics
from piinguin.services.subjects import SaltEpoch
from piinguin.v1 import PiinguinStub
from storage import AuditStore, MemoryStorage, SubjectStorage
from storage.memory import MemoryAuditStore


class LogBuffer(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def log_buffer() -> LogBuffer:
    buffer = LogBuffer()
    configure_logging("debug", "json", stream=buffer, cache=False)
    return buffer


@pytest.fixture
def log_output(log_buffer: LogBuffer) -> Callable[[], str]:
    return log_buffer.getvalue


@contextlib.asynccontextmanager
async def running_server(
    storage: SubjectStorage | None = None,
    *,
    auth: Authenticator | None = None,
    audit: AuditStore | None = None,
    max_bulk_items: int = 1000,
    max_message_bytes: int = 4 * 1024 * 1024,
    grace_period: float = 5.0,
    legacy_api: bool = False,
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    wire: WireLimits | None = None,
    metrics: Metrics | None = None,
    unauthenticated_audit_budget: int = 100,
    salts: Sequence[SaltEpoch] = (),
    receipt_signer: ReceiptSigner | None = None,
) -> AsyncIterator[PiinguinServer]:
    """A server on 127.0.0.1 (``port`` 0: any free port), SERVING; drained on exit."""
    async with PiinguinServer(
        storage if storage is not None else MemoryStorage(),
        auth=auth if auth is not None else Authenticator.insecure(),
        audit=audit if audit is not None else MemoryAuditStore(),
        max_bulk_items=max_bulk_items,
        max_message_bytes=max_message_bytes,
        legacy_api=legacy_api,
        host="127.0.0.1",
        port=port,
        ssl_context=ssl_context,
        grace_period=grace_period,
        wire=wire,
        metrics=metrics,
        unauthenticated_audit_budget=unauthenticated_audit_budget,
        salts=salts,
        receipt_signer=receipt_signer,
    ) as server:
        await server.wait_ready()
        yield server


#: The ``start_server`` fixture: ``running_server``.
ServerFactory = Callable[..., contextlib.AbstractAsyncContextManager[PiinguinServer]]


@pytest.fixture
def start_server() -> ServerFactory:
    return running_server


@pytest.fixture
async def server() -> AsyncIterator[PiinguinServer]:
    async with running_server() as srv:
        yield srv


@pytest.fixture
async def stub(server: PiinguinServer) -> AsyncIterator[PiinguinStub]:
    """A raw generated stub on a real socket to ``server``."""
    channel = Channel("127.0.0.1", server.port)
    try:
        yield PiinguinStub(channel)
    finally:
        channel.close()


class Call(NamedTuple):
    """One call as the server received it."""

    method: str  # e.g. "/piinguin.v1.Piinguin/CreatePiiRecords"
    peer_port: int  # the client's end of the connection: one port, one connection
    metadata: dict[str, str]


S = TypeVar("S", bound=SubjectStorage)


@dataclass
class Vault(Generic[S]):
    """A running server, the storage under it, and every call it received, in order."""

    server: PiinguinServer
    storage: S
    calls: list[Call] = field(default_factory=list)

    @classmethod
    def watching(cls, server: PiinguinServer, storage: S) -> Self:
        """A vault that records every call ``server`` receives from now on."""
        vault = cls(server, storage)
        listen(server.grpc, RecvRequest, vault.on_recv_request)
        return vault

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def calls_to(self, rpc: str) -> list[Call]:
        return [call for call in self.calls if call.method.endswith(f"/{rpc}")]

    async def on_recv_request(self, event: RecvRequest) -> None:
        peer = event.peer.addr()
        assert peer is not None
        metadata = {key: str(value) for key, value in event.metadata.items()}
        self.calls.append(Call(event.method_name, int(peer[1]), metadata))


@contextlib.asynccontextmanager
async def running_vault(storage: S, **options: Any) -> AsyncIterator[Vault[S]]:
    """``running_server(storage, **options)``, with its calls recorded."""
    async with running_server(storage, **options) as server:
        yield Vault.watching(server, storage)


@pytest.fixture
async def closed_target() -> str:
    """An address where a server listened and no longer does."""
    async with running_server(grace_period=0) as server:
        port = server.port
    return f"127.0.0.1:{port}"


class EntryPoint(NamedTuple):
    port: int
    task: asyncio.Task[None]  # serve() itself: done once the server has drained


@contextlib.asynccontextmanager
async def running_entry_point(config: ServerConfig) -> AsyncIterator[EntryPoint]:
    """``piinguin-server``'s ``serve(config)`` in this process, as the command runs it, once
    it listens. Leaving stops it as SIGTERM would and waits for the drain."""
    stop = asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(config, stop=stop, listening=listening))
    try:
        # serve() either listens or fails at start (a bad option): whichever comes first.
        first: list[asyncio.Future[Any]] = [task, listening]
        await asyncio.wait(first, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        yield EntryPoint(listening.result(), task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server that lives for the whole session."""
    # Imported here: moto's server brings Flask and friends, which most runs never need.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass(frozen=True)
class Scrape:
    """One scrape of ``/metrics``: its text, and each sample's value by name and labels."""

    text: str

    def value(self, name: str, **labels: str) -> float | None:
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None


async def scrape(port: int) -> Scrape:
    def get() -> str:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            return str(response.read().decode())

    return Scrape(await asyncio.to_thread(get))


#: Where Debian's libssl-dev puts them; elsewhere the build takes CFLAGS (hatch_build.py).
OPENSSL_HEADERS = Path("/usr/include/openssl/evp.h")


def why_no_c_sealer() -> str | None:
    """Why this machine cannot build the C sealer (``storage.crypto._batch``), or ``None``
    when it can: a C compiler and OpenSSL's headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not OPENSSL_HEADERS.is_file():
        return f"no OpenSSL headers ({OPENSSL_HEADERS}; Debian: libssl-dev)"
    return None
