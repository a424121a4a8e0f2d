"""One connection's two layers under grpclib: h2's state machine and grpclib's Connection.

h2 answers a stream over SETTINGS_MAX_CONCURRENT_STREAMS with a connection error, which
lets one misbehaving stream end every call on the connection; ``GuardedH2Connection``
refuses that stream alone with RST_STREAM REFUSED_STREAM, as RFC 9113 5.1.2 allows, and
counts streams whose handler is still running (the rapid reset bound). Header blocks are
decoded up to ``HEADER_BYTES_HARD_LIMIT``, so one larger than announced fails only its
stream. ``GuardedConnection`` makes guarded streams and, when the guard closes it, lingers
so that the GOAWAY sent before reaches the peer.

This is the one module that uses h2's private parts (``_receive_headers_frame``,
``_decode_headers``, ``_get_or_create_stream``, the state machine); grpclib's go through
``piinguin.server.grpclib_internals``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sized
from typing import TYPE_CHECKING, Any

from grpclib.config import Configuration
from grpclib.protocol import Connection
from h2.config import H2Configuration
from h2.connection import AllowedStreamIDs, ConnectionInputs, H2Connection, _decode_headers
from h2.errors import ErrorCodes
from h2.settings import SettingCodes, Settings
from hyperframe.frame import HeadersFrame

from piinguin.server.grpclib_internals import connection_transport, detach_transport
from piinguin.server.guard.limits import HEADER_BYTES_HARD_LIMIT, LINGER_SECONDS
from piinguin.server.guard.streams import GuardedStream

if TYPE_CHECKING:
    from piinguin.server.guard.limits import WireLimits


class GuardedH2Connection(H2Connection):
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


class GuardedConnection(Connection):
    """grpclib's connection, making guarded streams and closing with linger."""

    def __init__(
        self,
        h2: GuardedH2Connection,
        transport: asyncio.Transport,
        *,
        config: Configuration,
        limits: WireLimits,
    ) -> None:
        super().__init__(h2, transport, config=config)
        self.h2 = h2
        self.limits = limits

    #: Set for a close the guard decides on, after a GOAWAY that must reach the peer.
    linger = False

    def close(self) -> None:
        if self.linger and not self.is_closing():
            transport = connection_transport(self)
            if transport.can_write_eof():
                # Closing a socket with unread input resets it, and the peer can lose the
                # GOAWAY sent before: end our side, drop what still comes, then let go.
                transport.write_eof()
                asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.abort)
                detach_transport(self)
        super().close()

    def create_stream(self, *, stream_id: int | None = None, wrapper: Any = None) -> GuardedStream:
        return GuardedStream(
            self, self.h2, connection_transport(self), stream_id=stream_id, wrapper=wrapper
        )
