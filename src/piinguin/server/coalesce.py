"""One socket write per connection per event-loop turn, instead of one per HTTP/2 frame.

grpclib hands every frame group to ``transport.write`` as soon as h2 produces it: a unary
response is three writes (headers, message, trailers), plus one for the WINDOW_UPDATE
sent when the request is read. Each is a ``send()`` system call, and under load they were
the largest single cost of a call in the profile. ``CoalescingProtocol`` sits between the
event loop and grpclib's ``H2Protocol`` and gives it a transport that gathers those writes
and sends them together once the current turn of the loop is over, so calls finishing in
the same turn share one system call. The bytes and their order are unchanged.

Two cases write at once instead: when a turn has gathered ``EAGER_BYTES`` (a large
response), so that the real transport's back-pressure (``pause_writing`` past its
high-water mark) reaches grpclib's senders within the turn as it did before; and when the
transport is already closing on its own (the peer half-closed, a TLS close), because it
sends what it is given only until the connection is lost, which may come before the end
of the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, cast

from grpclib.protocol import H2Protocol
from grpclib.server import Server

from piinguin.server.grpclib_internals import wrap_protocol_factory

#: asyncio's default write high-water mark: past it, a transport pauses its protocol.
EAGER_BYTES = 64 * 1024


class CoalescingTransport:
    """The parts of ``asyncio.Transport`` grpclib uses, with ``write`` deferred to the end
    of the loop turn; anything else goes straight to the real transport."""

    __slots__ = ("_closed", "_loop", "_pending", "_pending_bytes", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._closed:
            return
        if self._transport.is_closing():
            self.flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= EAGER_BYTES:
            self.flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_write_buffer_size(self) -> int:
        return self._pending_bytes + self._transport.get_write_buffer_size()

    def flush(self) -> None:
        """Send what was gathered, if anything (idempotent)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._pending_bytes = 0
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def discard(self) -> None:
        """The connection is lost: drop what is gathered and whatever comes after."""
        self._closed = True
        self._pending = []
        self._pending_bytes = 0

    def close(self) -> None:
        # What grpclib wrote before closing (a final frame, a reset) must still go out;
        # what it writes after is for a connection it has given up.
        self.flush()
        self._closed = True
        self._transport.close()

    def write_eof(self) -> None:
        # Like close: what was gathered goes first, nothing after.
        self.flush()
        self._closed = True
        self._transport.write_eof()

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
        # The transport closes after this returns; gathered bytes must reach it first.
        if self.transport is not None:
            self.transport.flush()
        return self.h2.eof_received()

    def pause_writing(self) -> None:
        self.h2.pause_writing()

    def resume_writing(self) -> None:
        self.h2.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.transport.discard()
        self.h2.connection_lost(exc)


def coalesce_writes(
    server: Server, on_connection: Callable[[H2Protocol], object] | None = None
) -> None:
    """Serve ``server``'s connections through ``CoalescingProtocol``; ``on_connection``
    sees each grpclib protocol as it is made. Call before ``server.start``."""

    def coalescing(make_protocol: Callable[[], H2Protocol]) -> Callable[[], CoalescingProtocol]:
        def coalescing_protocol() -> CoalescingProtocol:
            protocol = make_protocol()
            if on_connection is not None:
                on_connection(protocol)
            return CoalescingProtocol(protocol)

        return coalescing_protocol

    # grpclib has no seam for the protocol; its factory is the one place to put one.
    wrap_protocol_factory(server, coalescing)
