"""Where h2's events meet grpclib's handler: requests checked, resets counted.

grpclib's ``EventsProcessor`` raises on a header that is not ASCII and never answers one
without ``:method`` or ``:path``; it keeps a stream reset before its handler ran, and the
flow-control window its data took, for the connection's life (vmagamedov/grpclib#217); and
it lets a peer reset running streams as fast as it can open them. ``GuardedProcessor``
answers bad headers per stream, releases reset streams, and sends GOAWAY
ENHANCE_YOUR_CALM to a peer that resets too many running streams, as nghttp2, Go and
grpc-java do (CVE-2023-44487).
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, cast

from grpclib.const import Status
from grpclib.metadata import encode_grpc_message
from grpclib.protocol import EventsProcessor, Stream
from grpclib.server import Handler
from h2.errors import ErrorCodes
from h2.events import RequestReceived, StreamReset

from piinguin.server.grpclib_internals import forget_finished_calls

if TYPE_CHECKING:
    from piinguin.server.guard.connection import GuardedConnection
    from piinguin.server.guard.protocol import GuardedProtocol

_GRPC_CONTENT_TYPE = "application/grpc"


class GuardedProcessor(EventsProcessor):
    """grpclib's events processor, answering bad requests and bounding resets."""

    connection: GuardedConnection

    handler: Handler

    def __init__(
        self, handler: Handler, connection: GuardedConnection, protocol: GuardedProtocol
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
        forget_finished_calls(self.handler)

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
