"""The HTTP/2 layer under grpclib, made safe for peers that mean harm.

Health and reflection answer without credentials, so anything that reaches the server's
socket reaches this layer. grpclib trusts its peer; each class below replaces the part of
grpclib (or h2) that a hostile peer could use, and changes nothing else:

- ``GuardedProtocol`` (grpclib's ``H2Protocol``): the connection cap, the idle timeout, a
  GOAWAY before any connection it closes (h2 queues one on a protocol error; grpclib closed
  without sending it), and peers that send without reading what they are sent.
- ``_H2Connection`` (h2's ``H2Connection``): a stream over ``--max-concurrent-streams``,
  counting streams whose handler is still running (the rapid reset bound), is refused
  with RST_STREAM REFUSED_STREAM as RFC 9113 5.1.2 allows, instead of h2's connection error;
  header blocks are decoded up to ``HEADER_BYTES_HARD_LIMIT``, so a larger one than
  announced fails only its own stream.
- ``_Processor`` (grpclib's ``EventsProcessor``): headers that are not ASCII, too large or
  without ``:method``/``:path`` are answered per stream (grpclib raised or never answered);
  a stream reset before its handler ran is released (vmagamedov/grpclib#217); a peer that
  resets too many running streams gets GOAWAY ENHANCE_YOUR_CALM, as nghttp2, Go and
  grpc-java do (CVE-2023-44487).
- ``_Stream`` and ``_Buffer`` (grpclib's ``Stream`` and ``Buffer``): a request message is
  refused by its 5-byte prefix before its bytes are read (too large, compressed), a body
  that ends early or does not arrive in time gets a status, and received bytes are kept in
  one buffer (grpclib kept an object per DATA frame, ~450 bytes each).

These are grpclib's and h2's private classes (``grpclib_internals`` holds grpclib's other
private parts), so both are pinned: the test of this module fails, naming what to re-check,
when the installed versions are not ``PINNED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import structlog
from grpclib.config import Configuration
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.metadata import encode_grpc_message
from grpclib.protocol import (
    Connection,
    EventsProcessor,
    H2Protocol,
    Stream,
    _set_nodelay,
)
from grpclib.server import Handler, Server
from h2.config import H2Configuration
from h2.connection import AllowedStreamIDs, ConnectionInputs, H2Connection, _decode_headers
from h2.errors import ErrorCodes
from h2.events import RequestReceived, StreamReset
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings
from hyperframe.frame import HeadersFrame

from piinguin.server.grpclib_internals import PINNED_VERSION, wrap_protocol_factory

log = structlog.get_logger("piinguin.server.guard")

#: The releases whose private classes this module subclasses.
PINNED = {"grpclib": PINNED_VERSION, "h2": "4.4.1"}

#: Header blocks up to this size are decoded (HPACK state must stay in step) and refused
#: per stream; beyond it the connection cannot continue and gets GOAWAY.
HEADER_BYTES_HARD_LIMIT = 1024 * 1024
#: Bytes waiting to be sent to a peer that has stopped reading while it keeps sending
#: (each ping, reset or refusal it sends makes an answer); a legitimate slow reader stays
#: under a few frames per stream.
MAX_UNSENT_BYTES = 4 * 1024 * 1024
#: A read larger than this goes to h2 in slices of it, so that one connection's flood of
#: tiny frames cannot hold the event loop (and every other connection) for long.
SLICE_BYTES = 16 * 1024
TURN_SECONDS = 0.01
#: How long after finding a connection idle it is looked at again before it is closed.
IDLE_RECHECK_SECONDS = 0.1
#: How long a connection closed with GOAWAY reads and drops what its peer still sends.
LINGER_SECONDS = 1.0
_GRPC_CONTENT_TYPE = "application/grpc"


@dataclass(frozen=True, slots=True)
class WireLimits:
    """What one peer may hold; the first five are flags (see ``ServerConfig``)."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_streams: int = 100
    max_connections: int = 1000
    idle_timeout: float = 300.0
    body_timeout: float = 30.0
    #: Announced in SETTINGS_MAX_HEADER_LIST_SIZE; a larger request is refused.
    max_header_bytes: int = 64 * 1024
    #: Resets of running streams a connection may make at once, and per second after.
    reset_burst: int = 1000
    reset_rate: float = 100.0


class Connections:
    """The server's open connections: the cap, and who to close when it is reached."""

    def __init__(self, limits: WireLimits) -> None:
        self.limits = limits
        self._open: set[GuardedProtocol] = set()

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, protocol: GuardedProtocol) -> bool:
        if len(self._open) >= self.limits.max_connections:
            # Idle connections must not lock out a caller: the one idle longest makes room.
            idle = min(
                (p for p in self._open if p.is_idle()), key=lambda p: p.last_call, default=None
            )
            if idle is None:
                return False
            idle.goaway(ErrorCodes.NO_ERROR, "connection limit reached, closing idle connection")
        self._open.add(protocol)
        return True

    def remove(self, protocol: GuardedProtocol) -> None:
        self._open.discard(protocol)


def guard_connections(server: Server, limits: WireLimits) -> Connections:
    """Serve ``server``'s connections through ``GuardedProtocol``; call before anything
    else wraps its protocol factory, and before the server starts."""
    connections = Connections(limits)

    def guarding(make_protocol: Callable[[], H2Protocol]) -> Callable[[], GuardedProtocol]:
        def guarded_protocol() -> GuardedProtocol:
            # grpclib's own protocol registers its handler with the server; keep its parts.
            made = make_protocol()
            handler = cast(Handler, made.handler)
            return GuardedProtocol(handler, made.config, _H2_CONFIG, connections)

        return guarded_protocol

    wrap_protocol_factory(server, guarding)
    return connections


# grpclib's settings, except that headers come as bytes: the processor decodes them, so a
# byte that is not ASCII fails one stream, not the whole batch of frames it arrived in.
_H2_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_inbound_headers=False,
    normalize_outbound_headers=False,
)


class GuardedProtocol(H2Protocol):
    connection: _Connection
    processor: _Processor

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
            _set_nodelay(sock)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = f"{peer[0]}:{peer[1]}"
        limits = self.limits
        h2 = _H2Connection(self.h2_config, limits)
        h2.initiate_connection()
        initial = h2.local_settings.initial_window_size
        if conn_delta := self.config.http2_connection_window_size - initial:
            h2.increment_flow_control_window(conn_delta)
        if self.config.http2_stream_window_size != initial:
            h2.update_settings(
                {SettingCodes.INITIAL_WINDOW_SIZE: self.config.http2_stream_window_size}
            )
        self.connection = _Connection(h2, self._transport, config=self.config, limits=limits)
        self.connection.flush()
        self.connection.initialize()
        self.processor = _Processor(cast(Handler, self.handler), self.connection, self)
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
        asyncio.get_running_loop().call_soon(cast(Handler, self.handler).__gc_collect__)

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


class _H2Connection(H2Connection):
    """h2's connection, refusing one stream where h2 would drop the connection."""

    def __init__(self, config: H2Configuration, limits: WireLimits) -> None:
        super().__init__(config=config)
        self.max_streams = limits.max_concurrent_streams
        # h2's documented way to set what the first SETTINGS frame announces.
        self.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
                SettingCodes.MAX_HEADER_LIST_SIZE: limits.max_header_bytes,
            },
        )
        self.decoder.max_header_list_size = HEADER_BYTES_HARD_LIMIT
        #: Streams whose handler is still running (the processor's), set once it exists.
        self.running: Sized = ()
        self._accepted = 0  # new streams of the current receive_data, not yet registered
        self.refused = 0  # streams refused since the protocol last looked

    def receive_data(self, data: Any) -> list[Any]:
        self._accepted = 0
        return super().receive_data(data)

    def _receive_headers_frame(self, frame: HeadersFrame) -> tuple[list[Any], list[Any]]:
        if frame.stream_id in self.streams:
            return super()._receive_headers_frame(frame)  # trailers: h2's own rules
        # A reset stream leaves h2's count at once but keeps its handler until it runs:
        # counting those is what bounds a rapid reset.
        in_use = max(self.open_inbound_streams, len(self.running) + self._accepted)
        if in_use < self.max_streams:
            self._accepted += 1
            return super()._receive_headers_frame(frame)
        # What h2's method does up to the stream's creation (the header block must be
        # decoded for HPACK to stay in step), then a reset instead of a request.
        headers = _decode_headers(self.decoder, frame.data)
        events = self.state_machine.process_input(ConnectionInputs.RECV_HEADERS)
        stream = self._get_or_create_stream(frame.stream_id, AllowedStreamIDs.ODD)
        frames, _ = stream.receive_headers(headers, "END_STREAM" in frame.flags, None)
        frames += stream.reset_stream(ErrorCodes.REFUSED_STREAM)
        self.refused += 1
        return frames, events


class _Connection(Connection):
    def __init__(
        self,
        h2: _H2Connection,
        transport: asyncio.Transport,
        *,
        config: Configuration,
        limits: WireLimits,
    ) -> None:
        super().__init__(h2, transport, config=config)
        self.h2 = h2
        self.limits = limits

    #: Set for a close this module decides on, after a GOAWAY that must reach the peer.
    linger = False

    def close(self) -> None:
        transport = getattr(self, "_transport", None)
        if (
            self.linger
            and transport is not None
            and transport.can_write_eof()
            and not transport.is_closing()
        ):
            # Closing a socket with unread input resets it, and the peer can lose the
            # GOAWAY sent before: end our side, drop what still comes, then let go.
            transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.abort)
            del self._transport
            # grpclib breaks this cycle in its own close, for memory's sake
            with contextlib.suppress(AttributeError):
                del self.h2._frame_dispatch_table
        super().close()

    def create_stream(self, *, stream_id: int | None = None, wrapper: Any = None) -> _Stream:
        return _Stream(self, self.h2, self._transport, stream_id=stream_id, wrapper=wrapper)


class _Processor(EventsProcessor):
    connection: _Connection

    handler: Handler

    def __init__(
        self, handler: Handler, connection: _Connection, protocol: GuardedProtocol
    ) -> None:
        super().__init__(handler, connection)
        self.protocol = protocol
        self.last_release = 0.0
        limits = connection.limits
        self._max_header_bytes = limits.max_header_bytes
        self._reset_rate = limits.reset_rate
        self._reset_burst = float(limits.reset_burst)
        self._reset_tokens = self._reset_burst
        self._reset_refilled = time.monotonic()
        self._reset: list[Stream] = []

    def process_request_received(self, event: RequestReceived) -> None:
        stream_id = event.stream_id
        raw: list[tuple[bytes, bytes]] = event.headers
        try:
            headers = [(name.decode("ascii"), value.decode("ascii")) for name, value in raw]
        except UnicodeDecodeError:
            self._answer(stream_id, Status.INVALID_ARGUMENT, "a request header is not ASCII")
            return
        if sum([len(name) + len(value) for name, value in raw]) + 32 * len(raw) > (
            self._max_header_bytes
        ):
            self._answer(
                stream_id,
                Status.RESOURCE_EXHAUSTED,
                f"request headers exceed the limit of {self._max_header_bytes} bytes",
            )
            return
        named = dict(headers)
        path = named.get(":path")
        if path is None or ":method" not in named:
            self._answer(stream_id, Status.INVALID_ARGUMENT, "request has no :method or :path")
            return
        stream = self.connection.create_stream(stream_id=stream_id)
        method = self.handler.mapping.get(path)
        # A client stream may wait as long as it likes before its first message.
        stream.patient = method is not None and method.cardinality.client_streaming
        self.streams[stream_id] = stream
        self.handler.accept(stream, headers, partial(self.release, stream))

    def release(self, stream: Stream) -> None:
        """The handler of ``stream`` is done (idempotent: see ``process_stream_reset``)."""
        stream_id = cast(int, stream.id)
        if self.streams.pop(stream_id, None) is None:
            return
        self.last_release = time.monotonic()
        if not self.connection.is_closing():
            self.connection.ack(stream_id, stream.buffer.unacked_size())

    def process_stream_reset(self, event: StreamReset) -> None:
        stream = self.streams.get(event.stream_id)
        super().process_stream_reset(event)  # cancels the handler's task
        if stream is None:
            return
        self._reset.append(stream)
        if len(self._reset) == 1:
            asyncio.get_running_loop().call_soon(self._sweep)
        if event.remote_reset and not self.take_resets(1):
            self.protocol.goaway(ErrorCodes.ENHANCE_YOUR_CALM, "too many streams reset")

    def _sweep(self) -> None:
        """After the handlers of reset streams have had their turn."""
        reset, self._reset = self._reset, []
        # A task cancelled before its first step never runs its handler's ``finally``,
        # which is what releases the stream (grpclib#217).
        for stream in reset:
            self.release(stream)
        # The handler keeps cancelled tasks, and through them their streams, until its
        # next tenth call; a flood of resets brings no next call.
        self.handler.__gc_collect__()

    def take_resets(self, count: int) -> bool:
        """Count ``count`` streams the peer gave up before their handler finished (a token
        bucket: ``reset_burst`` at once, ``reset_rate`` a second after); False once the
        peer has had more."""
        now = time.monotonic()
        tokens = min(
            self._reset_burst, self._reset_tokens + (now - self._reset_refilled) * self._reset_rate
        )
        self._reset_refilled = now
        self._reset_tokens = tokens - count
        return self._reset_tokens >= 0

    def _answer(self, stream_id: int, status: Status, message: str) -> None:
        """A trailers-only gRPC answer to a request no handler will see, and a reset if
        the peer is still sending (as grpclib does after an error)."""
        h2 = self.connection.h2
        h2.send_headers(
            stream_id,
            [
                (":status", "200"),
                ("content-type", _GRPC_CONTENT_TYPE),
                ("grpc-status", str(status.value)),
                ("grpc-message", encode_grpc_message(message)),
            ],
            end_stream=True,
        )
        h2_stream = h2.streams.get(stream_id)
        if h2_stream is not None and not h2_stream.closed:
            h2.reset_stream(stream_id, ErrorCodes.NO_ERROR)


class _Stream(Stream):
    """One request's end of a stream: reads gRPC messages with limits."""

    connection: _Connection
    buffer: _Buffer  # type: ignore[assignment]
    #: A client-streaming call: waiting for a message (not for the rest of one) is unbounded.
    patient = False
    _messages = 0
    _in_body = False

    def init_stream(self, stream_id: int, connection: Connection) -> None:
        # grpclib's own, with the one buffer.
        self.id = stream_id
        self.buffer = _Buffer(partial(connection.ack, stream_id))
        connection.streams_started += 1
        self.created = connection.last_stream_created = time.monotonic()

    async def recv_data(self, size: int) -> bytes:
        """grpclib reads a message as ``recv_data(5)``, its prefix, then
        ``recv_data(length)``: the prefix is checked before the body is waited for."""
        limits = self.connection.limits
        if self._in_body:
            self._in_body = False
            if not size:
                return b""
            return await self.buffer.read(size, time.monotonic() + limits.body_timeout)
        first = not self._messages and not self.patient
        deadline = cast(float, self.created) + limits.body_timeout if first else None
        prefix = await self.buffer.read(size, deadline, may_end=True)
        if len(prefix) != 5:  # the end of the stream
            return prefix
        self._messages += 1
        if prefix[0]:
            if prefix[0] == 1:
                raise GRPCError(Status.UNIMPLEMENTED, "compressed requests are not supported")
            raise GRPCError(Status.INVALID_ARGUMENT, "request message has an invalid flag byte")
        length = int.from_bytes(prefix[1:], "big")
        if length > limits.max_message_bytes:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request of {length} bytes exceeds the limit of {limits.max_message_bytes}",
            )
        self._in_body = True
        return prefix


class _Buffer:
    """What a stream has received and its handler not yet read, in one buffer.

    Flow control as grpclib's: bytes are acknowledged (WINDOW_UPDATE) when a read takes
    them, so a handler that does not read holds the peer back.
    """

    __slots__ = ("_ack", "_data", "_eof", "_unacked", "_waiter")

    def __init__(self, ack: Callable[[int], None]) -> None:
        self._ack = ack
        self._data: bytes | bytearray = b""
        self._unacked = 0
        self._eof = False
        self._waiter: asyncio.Future[bool] | None = None

    def add(self, data: bytes, ack_size: int) -> None:
        if not self._data:
            self._data = data
        elif isinstance(self._data, bytearray):
            self._data += data
        else:
            self._data = bytearray(self._data) + data
        self._unacked += ack_size
        self._wake(True)

    def eof(self) -> None:
        self._eof = True
        self._wake(True)

    def unacked_size(self) -> int:
        unacked, self._unacked = self._unacked, 0
        return unacked

    async def read(
        self, size: int, deadline: float | None = None, *, may_end: bool = False
    ) -> bytes:
        """``size`` bytes; ``b""`` if ``may_end`` and the stream ended here."""
        while len(self._data) < size:
            if self._unacked:
                self._ack(self.unacked_size())
            if self._eof:
                if may_end and not self._data:
                    return b""
                raise GRPCError(Status.INVALID_ARGUMENT, "request ended inside a message")
            if not await self._wait(deadline):
                raise GRPCError(Status.DEADLINE_EXCEEDED, "request message did not arrive in time")
        if self._unacked:
            self._ack(self.unacked_size())
        data = self._data
        if len(data) == size:
            self._data = b""
            return data if isinstance(data, bytes) else bytes(data)
        if isinstance(data, bytes):
            self._data = data[size:]
            return data[:size]
        taken = bytes(memoryview(data)[:size])
        del data[:size]  # cheap: bytearray moves its start instead of its bytes
        return taken

    async def _wait(self, deadline: float | None) -> bool:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None
        if deadline is not None:
            timer = loop.call_later(max(0.0, deadline - time.monotonic()), _expire, waiter)
        try:
            woken: bool = await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return woken

    def _wake(self, value: bool) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(value)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
