"""Servers for the client and CLI tests, all on loopback sockets.

- ``vault``: a real ``PiinguinServer`` on ``MemoryStorage``, with small limits.
- ``scripted``: a grpclib server whose answers the test picks through the read purpose,
  for the statuses and misbehaviour the real server never shows.
- ``closed_target``: an address where a server listened and no longer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from grpclib.const import Status
from grpclib.events import RecvRequest, listen
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from piinguin.client import PiinguinClient
from piinguin.server import PiinguinServer
from piinguin.v1 import (
    DeletePiiRecordsRequest,
    DeletePiiRecordsResponse,
    ItemStatus,
    PiinguinBase,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
)
from storage import MemoryStorage

#: The ``start_server`` fixture of tests/conftest.py.
ServerFactory = Callable[..., contextlib.AbstractAsyncContextManager[PiinguinServer]]

MAX_BULK_ITEMS = 5
MAX_MESSAGE_BYTES = 4096

#: Read purposes the scripted server understands besides a status name such as "INTERNAL".
HANG = "hang"
NO_RECORD = "no record"


@dataclass
class Vault:
    server: PiinguinServer
    storage: MemoryStorage
    target: str
    #: (peer port, metadata) of every call, in arrival order.
    calls: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    async def on_recv_request(self, event: RecvRequest) -> None:
        peer = event.peer.addr()
        assert peer is not None
        metadata = {key: str(value) for key, value in event.metadata.items()}
        self.calls.append((int(peer[1]), metadata))


@pytest.fixture
async def vault(start_server: ServerFactory) -> AsyncIterator[Vault]:
    storage = MemoryStorage()
    async with start_server(
        storage, max_bulk_items=MAX_BULK_ITEMS, max_message_bytes=MAX_MESSAGE_BYTES, grace_period=0
    ) as server:
        vault = Vault(server, storage, f"127.0.0.1:{server.port}")
        listen(server.grpc, RecvRequest, vault.on_recv_request)
        yield vault


@pytest.fixture
async def client(vault: Vault) -> AsyncIterator[PiinguinClient]:
    async with PiinguinClient(vault.target, timeout=5.0) as client:
        yield client


class ScriptedService(PiinguinBase):
    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        if message.purpose == HANG:
            await self.release.wait()
        if message.purpose == NO_RECORD:
            return ReadPiiRecordResponse()
        raise GRPCError(Status[message.purpose], f"scripted {message.purpose}")

    async def read_pii_records(self, message: ReadPiiRecordsRequest) -> ReadPiiRecordsResponse:
        # Whatever was asked: an OK without a record, then a code gRPC does not define.
        return ReadPiiRecordsResponse(
            results=[
                ReadResult(status=ItemStatus()),
                ReadResult(status=ItemStatus(code=99, message="from the future")),
            ]
        )

    async def delete_pii_records(
        self, message: DeletePiiRecordsRequest
    ) -> DeletePiiRecordsResponse:
        return DeletePiiRecordsResponse(results=[])


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


@pytest.fixture
async def closed_target(start_server: ServerFactory) -> str:
    async with start_server(grace_period=0) as server:
        port = server.port
    return f"127.0.0.1:{port}"
