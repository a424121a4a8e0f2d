"""Servers for the client and CLI tests, all on loopback sockets.

- ``vault``: a real ``PiinguinServer`` on ``MemoryStorage``, with small limits.
- ``scripted``: a grpclib server whose answers the test picks through the read purpose
  (``tests.doubles.ScriptedService``), for the statuses and misbehaviour the real server
  never shows.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from grpclib.server import Server

from piinguin.client import PiinguinClient
from storage import MemoryStorage
from tests import conftest
from tests.doubles import ScriptedService

#: The server the client and CLI tests talk to.
Vault = conftest.Vault[MemoryStorage]

MAX_BULK_ITEMS = 5
MAX_MESSAGE_BYTES = 4096


@pytest.fixture
async def vault() -> AsyncIterator[Vault]:
    async with conftest.running_vault(
        MemoryStorage(),
        max_bulk_items=MAX_BULK_ITEMS,
        max_message_bytes=MAX_MESSAGE_BYTES,
        grace_period=0,
    ) as vault:
        yield vault


@pytest.fixture
async def client(vault: Vault) -> AsyncIterator[PiinguinClient]:
    async with PiinguinClient(vault.target, timeout=5.0) as client:
        yield client


@dataclass
class Scripted:
    service: ScriptedService
    target: str


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    service = ScriptedService()
    server = Server([service])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await server.start(sock=sock)
        try:
            yield Scripted(service, f"127.0.0.1:{port}")
        finally:
            service.release.set()
            server.close()
            await server.wait_closed()
