"""One request's end of a stream: gRPC messages read within limits, into one buffer.

grpclib reads a request message whole, whatever its 5-byte prefix declares, waits for it
as long as the peer likes, and keeps an object per DATA frame (~450 bytes each).
``GuardedStream`` refuses a message by its prefix before its bytes are read (too large,
compressed), answers a body that ends early or does not arrive in time with a status, and
``StreamBuffer`` keeps what arrived in one buffer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.protocol import Connection, Stream

if TYPE_CHECKING:
    from piinguin.server.guard.connection import GuardedConnection


class GuardedStream(Stream):
    """One request's end of a stream: reads gRPC messages with limits."""

    connection: GuardedConnection
    buffer: StreamBuffer  # type: ignore[assignment]
    #: A client-streaming call: waiting for a message (not for the rest of one) is unbounded.
    patient = False
    _messages = 0
    _in_body = False

    def init_stream(self, stream_id: int, connection: Connection) -> None:
        # grpclib's own, with the one buffer.
        self.id = stream_id
        self.buffer = StreamBuffer(partial(connection.ack, stream_id))
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


class StreamBuffer:
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
