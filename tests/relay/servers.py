"""Real Piinguin servers on loopback sockets for the relay's tests, and a Lambda-like way to
invoke a relay.

The relay is synchronous, as Lambda calls it, and runs its own event loop: tests call it
in a worker thread (``asyncio.to_thread``) while the server answers on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from grpclib.const import Status
from grpclib.server import Server

from piinguin.access.auth import Authenticator
from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.v1 import CreatePiiRecordsRequest, CreatePiiRecordsResponse, ItemStatus, PiinguinBase
from relay.extract import Pair
from relay.handler import BatchResponse, Relay
from tests import conftest
from tests.doubles import FaultyStorage, Hangs, StopsAfter


class Vault(conftest.Vault[FaultyStorage]):
    @property
    def peers(self) -> list[int]:
        """The client port of every bulk write, in arrival order."""
        return [call.peer_port for call in self.calls_to("CreatePiiRecords")]

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


@contextlib.asynccontextmanager
async def serving(
    storage: FaultyStorage,
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
    auth: Authenticator | None = None,
) -> AsyncIterator[Vault]:
    """A server on ``storage`` at ``port`` (0: any free port), drained on exit: a restart
    comes back on the same port. Every caller may write unless ``auth`` says otherwise."""
    async with conftest.running_server(
        storage, port=port, ssl_context=ssl_context, auth=auth
    ) as server:
        if isinstance(storage, StopsAfter):
            storage.server = server
        try:
            yield Vault.watching(server, storage)
        finally:
            if isinstance(storage, Hangs):
                storage.release.set()


async def invoke(relay: Relay, event: dict[str, Any], remaining_ms: int = 60_000) -> BatchResponse:
    """One Lambda invocation, in a thread of its own as Lambda's runtime would run it."""
    return await asyncio.to_thread(relay.invoke, event, remaining_ms)


class Stricter(PiinguinBase):
    """A server whose limits differ from the relay's: it refuses every pair whose original
    value ends in ``refused`` as INVALID_ARGUMENT, and fails those ending in ``flaky``."""

    async def create_pii_records(
        self, message: CreatePiiRecordsRequest
    ) -> CreatePiiRecordsResponse:
        def status(record: PiiRecord) -> ItemStatus:
            if record.original_value.endswith("refused"):
                return ItemStatus(code=Status.INVALID_ARGUMENT.value, message="too long here")
            if record.original_value.endswith("flaky"):
                return ItemStatus(code=Status.UNAVAILABLE.value, message="try again")
            return ItemStatus()

        return CreatePiiRecordsResponse(results=[status(r) for r in message.records])


@contextlib.asynccontextmanager
async def serving_stricter() -> AsyncIterator[str]:
    """A ``Stricter`` server on a free loopback port; its target."""
    server = Server([Stricter()])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        await server.start(sock=sock)
        try:
            yield f"127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.close()
            await server.wait_closed()


class LambdaContext:
    """What the relay uses of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


#: ``make_relay``: a Relay from settings (``target`` required).
RelayFactory = Callable[..., Relay]
