"""Real Piinguin servers on loopback sockets for the relay's tests, and a Lambda-like way to
invoke a relay.

The relay is synchronous, as Lambda calls it, and runs its own event loop: tests call it
in a worker thread (``asyncio.to_thread``) while the server answers on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from piinguin.access.auth import Authenticator
from piinguin.client import LawfulBasis, PiinguinClient
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


class LambdaContext:
    """What the relay uses of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


#: ``make_relay``: a Relay from settings (``target`` required).
RelayFactory = Callable[..., Relay]
