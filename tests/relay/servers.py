"""Real Piinguin servers on loopback sockets for the relay's tests, storage doubles that
fail or stop on cue, and a Lambda-like way to invoke a relay.

The relay is synchronous, as Lambda calls it, and runs its own event loop: tests call it
in a worker thread (``asyncio.to_thread``) while the server answers on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grpclib.events import RecvRequest, listen

from piinguin.access.auth import Authenticator
from piinguin.client import LawfulBasis, PiinguinClient
from piinguin.server import PiinguinServer
from relay.extract import Pair
from relay.handler import BatchResponse, Relay
from storage import Record, WriteOutcome
from storage.memory import MemoryAuditStore
from tests.doubles import FaultyStorage


@dataclass
class Vault:
    """A server, its storage, and the client port of every call it received."""

    server: PiinguinServer
    storage: FaultyStorage
    port: int
    peers: list[int] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def on_recv_request(self, event: RecvRequest) -> None:
        if event.method_name.endswith("/CreatePiiRecords"):
            address = event.peer.addr()
            assert address is not None
            self.peers.append(int(address[1]))

    async def stored(self, pairs: Sequence[Pair]) -> list[Pair]:
        """Read every pair's key back through a client, as a reader with a basis would."""
        async with PiinguinClient(self.target, timeout=5) as client:
            results = await client.read_records(
                [p.modified_value for p in pairs],
                basis=LawfulBasis.LEGAL_OBLIGATION,
                purpose="relay test read-back",
            )
        found = []
        for result in results:
            assert result.ok, result
            assert result.record is not None
            r = result.record
            found.append(
                Pair(
                    r.modified_value,
                    r.original_value,
                    r.field_name,
                    r.json_path,
                    r.schema,
                    r.hash_function,
                    r.app_id,
                    r.collector_tstamp,
                )
            )
        return found


class StopsAfter(FaultyStorage):
    """Fails no key, but starts the server's drain once ``writes`` bulk writes are in:
    every later call is refused, then finds the port closed."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes
        self.server: PiinguinServer | None = None
        self.drained: asyncio.Task[None] | None = None

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        outcomes = await super().put_many(records)
        self.writes -= 1
        if self.writes == 0 and self.server is not None:
            # The drain refuses new calls at once and lets this one answer.
            self.drained = asyncio.create_task(self.server.drain(5.0))
        return outcomes


class Hangs(FaultyStorage):
    """Holds every bulk write after the first ``writes`` until ``release`` is set."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes
        self.release = asyncio.Event()

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        self.writes -= 1
        if self.writes < 0:
            await self.release.wait()
        return await super().put_many(records)


@contextlib.asynccontextmanager
async def serving(
    storage: FaultyStorage, port: int = 0, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Vault]:
    """A server on ``storage`` at ``port`` (0: any free port), drained on exit.

    Not the ``start_server`` fixture: a restart must come back on the same port."""
    server = PiinguinServer(
        storage,
        auth=Authenticator.insecure(),
        audit=MemoryAuditStore(),
        max_bulk_items=1000,
        max_message_bytes=4 * 1024 * 1024,
    )
    vault = Vault(server, storage, await server.start("127.0.0.1", port, ssl_context=ssl_context))
    listen(server.grpc, RecvRequest, vault.on_recv_request)
    if isinstance(storage, StopsAfter):
        storage.server = server
    await server.wait_ready()
    try:
        yield vault
    finally:
        if isinstance(storage, Hangs):
            storage.release.set()
        if not server.tracker.draining:
            await server.drain(5.0)
        elif isinstance(storage, StopsAfter) and storage.drained is not None:
            await storage.drained


async def invoke(relay: Relay, event: dict[str, Any], remaining_ms: int = 60_000) -> BatchResponse:
    """One Lambda invocation, in a thread of its own as Lambda's runtime would run it."""
    return await asyncio.to_thread(relay.invoke, event, remaining_ms)


#: ``make_relay``: a Relay from settings (``target`` required).
RelayFactory = Callable[..., Relay]
