"""One socket write per connection per event-loop turn, instead of one per HTTP/2 frame.

grpclib hands every frame group to ``transport.write`` as soon as h2 produces it: a unary
response is three writes (headers, message, trailers), plus one for the WINDOW_UPDATE
sent when the request is read. Each is a ``send()`` system call, and under load they were
the largest single cost of a call in the profile. ``CoalescingProtocol`` sits between the
event loop and grpclib's ``H2Protocol`` and gives it a transport that gathers those writes
and sends them together once the current turn of the loop is over, so calls finishing in
the same turn share one system call. The bytes and their order are unchanged.

Back-pressure keeps working: the real transport still calls ``pause_writing`` when its
buffer fills (now during the flush), and HTTP/2 flow control bounds what one turn can
gather, as it bounded what the real transport buffered before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from grpclib.protocol import H2Protocol
from grpclib.server import Server


class CoalescingTransport:
    """The parts of ``asyncio.Transport`` grpclib uses, with ``write`` deferred to the end
    of the loop turn; anything else goes straight to the real transport."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        """Send what was written in this turn, if anything (idempotent)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if self._transport.is_closing():
            return  # the peer is gone or close() already flushed; nothing can be sent
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        # What grpclib wrote before closing (a final frame, a reset) must still go out.
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingProtocol(asyncio.Protocol):
    """Wraps one grpclib connection; the loop talks to this, grpclib to the coalescing
    transport."""

    __slots__ = ("h2", "transport")

    def __init__(self, h2: H2Protocol) -> None:
        self.h2 = h2
        self.transport: CoalescingTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, though they are one.
        self.transport = CoalescingTransport(
            cast(asyncio.Transport, transport), asyncio.get_running_loop()
        )
        self.h2.connection_made(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.h2.data_received(data)

    def eof_received(self) -> bool | None:
        return self.h2.eof_received()

    def pause_writing(self) -> None:
        self.h2.pause_writing()

    def resume_writing(self) -> None:
        self.h2.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.h2.connection_lost(exc)


def coalesce_writes(
    server: Server, on_connection: Callable[[H2Protocol], object] | None = None
) -> None:
    """Serve ``server``'s connections through ``CoalescingProtocol``; ``on_connection``
    sees each grpclib protocol as it is made. Call before ``server.start``."""
    # grpclib has no seam for the protocol; its factory is the one place to put one.
    make_protocol = server._protocol_factory

    def coalescing_protocol() -> CoalescingProtocol:
        protocol = make_protocol()
        if on_connection is not None:
            on_connection(protocol)
        return CoalescingProtocol(protocol)

    server._protocol_factory = coalescing_protocol  # type: ignore[method-assign,assignment]
