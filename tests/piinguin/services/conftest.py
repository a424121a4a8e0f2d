"""Service tests run twice: over a real TCP socket and over grpclib's in-memory ChannelFor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from grpclib.client import Channel
from grpclib.testing import ChannelFor

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Authenticator
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.codec import LimitedProtoCodec
from piinguin.server.calls import CallTracker
from piinguin.services.vault import PiinguinService
from piinguin.v1 import PiinguinStub
from storage import MemoryStorage
from storage.memory import MemoryAuditStore
from tests.conftest import running_server

MAX_BULK_ITEMS = 10
MAX_MESSAGE_BYTES = 256 * 1024


@pytest.fixture(params=["socket", "in_memory"])
async def stub(request: pytest.FixtureRequest) -> AsyncIterator[PiinguinStub]:
    if request.param == "socket":
        async with running_server(
            max_bulk_items=MAX_BULK_ITEMS, max_message_bytes=MAX_MESSAGE_BYTES
        ) as server:
            channel = Channel("127.0.0.1", server.port)
            try:
                yield PiinguinStub(channel)
            finally:
                channel.close()
    else:
        auditor = Auditor(MemoryAuditStore())
        service = PiinguinService(
            MemoryStorage(), Gatekeeper(auditor), max_bulk_items=MAX_BULK_ITEMS
        )
        # The call wrapper (authentication, bookkeeping) wraps the service as
        # PiinguinServer wraps it for its own grpclib server.
        tracker = CallTracker(Authenticator.insecure(), auditor)
        tracked = tracker.wrap(service)
        async with ChannelFor([tracked], codec=LimitedProtoCodec(MAX_MESSAGE_BYTES)) as channel:
            yield PiinguinStub(channel)
