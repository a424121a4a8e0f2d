"""Fixtures shared by every test folder.

- Every test's logs go, fully rendered as JSON, to a buffer: ``log_output`` reads it,
  so tests can check that no original value ever reaches a log line.
- ``start_server`` runs a real ``PiinguinServer`` on a loopback socket; without ``auth`` it
  runs as ``--insecure-no-auth`` does, so tests of other concerns need no tokens.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from grpclib.client import Channel

from piinguin.access.auth import Authenticator
from piinguin.logs import configure_logging
from piinguin.server import PiinguinServer
from piinguin.v1 import PiinguinStub
from storage import MemoryStorage, Storage
from storage.audit import AuditStore
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


ServerFactory = Callable[..., contextlib.AbstractAsyncContextManager[PiinguinServer]]


@contextlib.asynccontextmanager
async def running_server(
    storage: Storage | None = None,
    *,
    auth: Authenticator | None = None,
    audit: AuditStore | None = None,
    max_bulk_items: int = 1000,
    max_message_bytes: int = 4 * 1024 * 1024,
    grace_period: float = 5.0,
    legacy_api: bool = False,
    **start_kwargs: Any,
) -> AsyncIterator[PiinguinServer]:
    server = PiinguinServer(
        storage if storage is not None else MemoryStorage(),
        auth=auth if auth is not None else Authenticator.insecure(),
        audit=audit if audit is not None else MemoryAuditStore(),
        max_bulk_items=max_bulk_items,
        max_message_bytes=max_message_bytes,
        legacy_api=legacy_api,
    )
    await server.start("127.0.0.1", 0, **start_kwargs)
    await server.wait_ready()
    try:
        yield server
    finally:
        if not server.tracker.draining:
            await server.drain(grace_period)


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
    assert server.port is not None
    channel = Channel("127.0.0.1", server.port)
    try:
        yield PiinguinStub(channel)
    finally:
        channel.close()
