"""One connection under the HTTP/2 guard: grpclib's ``H2Protocol``, with the guarded parts.

grpclib's protocol builds h2's connection, grpclib's ``Connection`` and ``EventsProcessor``
in ``connection_made`` and feeds every read to h2 at once. ``GuardedProtocol`` builds the
guarded ones instead, and adds what belongs to the connection as a whole: the connection
cap and the idle timeout, a GOAWAY before any connection it closes (h2 queues one on a
protocol error; grpclib closed without sending it), reads handed to h2 in slices within a
loop turn, and a cut-off for peers that send without reading what they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from typing import TYPE_CHECKING, cast

import structlog
from grpclib.config import Configuration
from grpclib.protocol import H2Protocol
from grpclib.server import Handler
from h2.config import H2Configuration
from h2.errors import ErrorCodes
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes

from piinguin.server.grpclib_internals import forget_finished_calls, set_nodelay
from piinguin.server.guard.connection import GuardedConnection, GuardedH2Connection
from piinguin.server.guard.limits import (
    IDLE_RECHECK_SECONDS,
    MAX_UNSENT_BYTES,
    SLICE_BYTES,
    TURN_SECONDS,
)
from piinguin.server.guard.processor import GuardedProcessor

if TYPE_CHECKING:
    from piinguin.server.guard.registry import Connections

log = structlog.get_logger("piinguin.server.guard")


class GuardedProtocol(H2Protocol):
    """grpclib's protocol for one connection, building the guarded parts."""

    connection: GuardedConnection
    processor: GuardedProcessor

    def __init__(
        self,
        handler: Handler,
        config: Configuration,
        h2_config: H2Configuration,
        connections: Connections,
    ) -> None:
        super().__init__(handler, config, h2_config)
        self.connections = connections
        self.limits = connections.limits
        self.peer = "unknown"
        self._transport: asyncio.Transport | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._connected_at = 0.0
        self._backlog = b""  # received, not yet given to h2 (see _work_through_backlog)
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # grpclib's own connection_made, with the guarded parts.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            set_nodelay(sock)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = f"{peer[0]}:{peer[1]}"
        limits = self.limits
        h2 = GuardedH2Connection(self.h2_config, limits)
        h2.initiate_connection()
        initial = h2.local_settings.initial_window_size
        if conn_delta := self.config.http2_connection_window_size - initial:
            h2.increment_flow_control_window(conn_delta)
        if self.config.http2_stream_window_size != initial:
            h2.update_settings(
                {SettingCodes.INITIAL_WINDOW_SIZE: self.config.http2_stream_window_size}
            )
        self.connection = GuardedConnection(h2, self._transport, config=self.config, limits=limits)
        self.connection.flush()
        self.connection.initialize()
        self.processor = GuardedProcessor(cast(Handler, self.handler), self.connection, self)
        h2.running = self.processor.streams
        self._connected_at = time.monotonic()
        if not self.connections.admit(self):
            self.goaway(ErrorCodes.ENHANCE_YOUR_CALM, "too many connections", log_level="info")
            return
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(limits.idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self._backlog:  # reading is paused; this is what the transport still had
            self._backlog += data
        elif len(data) <= SLICE_BYTES:
            self._receive(data)
        else:
            self._backlog = data
            self._work_through_backlog()

    def _work_through_backlog(self) -> None:
        """Slice by slice, until the loop turn has had ``TURN_SECONDS``; the rest waits for
        the next turn, with reading paused. h2 takes some 17 µs a frame, so a read full of
        one-byte frames would hold the loop for half a second; ordinary reads are done
        within one turn."""
        deadline = time.monotonic() + TURN_SECONDS
        data, offset = self._backlog, 0
        while offset < len(data):
            self._receive(data[offset : offset + SLICE_BYTES])
            offset += SLICE_BYTES
            if self.connection.is_closing():
                self._backlog = b""
                return
            if offset < len(data) and time.monotonic() > deadline:
                self._backlog = data[offset:]
                if not self._reading_paused:
                    self._reading_paused = True
                    cast(asyncio.Transport, self._transport).pause_reading()
                asyncio.get_running_loop().call_soon(self._work_through_backlog)
                return
        self._backlog = b""
        if self._reading_paused:
            self._reading_paused = False
            cast(asyncio.Transport, self._transport).resume_reading()

    def _receive(self, data: bytes) -> None:
        connection = self.connection
        if connection.is_closing():
            return
        try:
            events = connection.feed(data)
        except ProtocolError as exc:
            # h2 has queued a GOAWAY naming the error: send it before closing.
            self._close(f"protocol error: {type(exc).__name__}", exc.error_code)
            return
        h2 = connection.h2
        if h2.refused:
            # Opening streams past the announced limit is resetting them before they run.
            refused, h2.refused = h2.refused, 0
            if not self.processor.take_resets(refused):
                self.goaway(ErrorCodes.ENHANCE_YOUR_CALM, "too many streams reset")
                return
        connection.flush()
        process = self.processor.process
        for event in events:
            process(event)
        if connection.is_closing():
            return
        connection.flush()
        if (
            not connection.write_ready.is_set()
            and self._transport is not None
            and self._transport.get_write_buffer_size() > MAX_UNSENT_BYTES
        ):
            # It keeps sending and never reads: there is no one to say goodbye to.
            self._close("peer does not read what it is sent", ErrorCodes.ENHANCE_YOUR_CALM)
            self._transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.connections.remove(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        super().connection_lost(exc)
        # The server drops a closed handler's tasks only every tenth new connection.
        asyncio.get_running_loop().call_soon(forget_finished_calls, cast(Handler, self.handler))

    def is_idle(self) -> bool:
        return not self.processor.streams

    @property
    def last_call(self) -> float:
        """When the connection last started or finished a call (or was made)."""
        return max(
            self._connected_at,
            self.connection.last_stream_created or 0.0,
            self.processor.last_release,
        )

    def goaway(self, code: ErrorCodes, reason: str, *, log_level: str = "warning") -> None:
        """Tell the peer why (GOAWAY), then close the connection and its streams."""
        connection = self.connection
        if connection.is_closing():
            return
        with contextlib.suppress(ProtocolError):  # h2 has closed already: nothing may be sent
            connection.h2.close_connection(code, additional_data=reason.encode())
        connection.flush()
        self._close(reason, code, log_level=log_level)

    def _close(self, reason: str, code: ErrorCodes | int, *, log_level: str = "warning") -> None:
        if code != ErrorCodes.NO_ERROR:
            getattr(log, log_level)(
                "connection_closed", peer=self.peer, reason=reason, http2_error=_code_name(code)
            )
        self.connection.flush()
        self.connections.remove(self)
        self.connection.linger = True
        self.processor.close(reason)

    def _check_idle(self, *, seen_idle_at: float | None = None) -> None:
        # One timer per connection, moved on only when it fires: calls pay nothing for it.
        connection = self.connection
        if connection.is_closing():
            return
        timeout = self.limits.idle_timeout
        loop = asyncio.get_running_loop()
        if self.processor.streams:
            delay = timeout
        else:
            last_call = self.last_call
            delay = last_call + timeout - time.monotonic()
            if delay <= 0:
                if seen_idle_at == last_call:
                    self.goaway(ErrorCodes.NO_ERROR, f"idle for {timeout:g} s")
                    return
                # A loop too busy to read may fire this before the request waiting in the
                # socket: look again once it has read.
                self._idle_timer = loop.call_later(
                    min(IDLE_RECHECK_SECONDS, timeout),
                    partial(self._check_idle, seen_idle_at=last_call),
                )
                return
        self._idle_timer = loop.call_later(delay, self._check_idle)


def _code_name(code: ErrorCodes | int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return str(code)
