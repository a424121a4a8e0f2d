"""``arrivals.batches``: what has arrived goes together, in order, without waiting for more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.services.arrivals import batches

END = object()


class Source:
    """A client stream the test feeds by hand; ``END`` ends it, an exception fails it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = asyncio.Event()

    def send(self, *messages: object) -> None:
        for message in messages:
            self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[object]:
        try:
            while (message := await self.queue.get()) is not END:
                if isinstance(message, Exception):
                    raise message
                yield message
        finally:
            self.closed.set()


async def test_messages_that_have_arrived_go_together_in_order() -> None:
    source = Source()
    source.send(1, 2, 3)
    stream = batches(aiter(source), limit=10)

    first = await anext(stream)
    source.send(4, END)
    rest = [batch async for batch in stream]

    assert first == [1, 2, 3]
    assert rest == [[4]]


async def test_a_batch_is_answered_before_the_stream_ends() -> None:
    source = Source()
    source.send("only")

    async with asyncio.timeout(5):
        first = await anext(batches(aiter(source), limit=10))

    assert first == ["only"]
    assert not source.closed.is_set()


async def test_batches_hold_at_most_the_limit() -> None:
    source = Source()
    source.send(*range(7), END)

    got = [batch async for batch in batches(aiter(source), limit=3)]

    assert all(0 < len(batch) <= 3 for batch in got)
    assert [m for batch in got for m in batch] == list(range(7))


async def test_a_stream_error_comes_after_the_messages_before_it() -> None:
    source = Source()
    source.send("a", "b", GRPCError(Status.INVALID_ARGUMENT, "not a valid message"))
    stream = batches(aiter(source), limit=10)

    first = await anext(stream)
    with pytest.raises(GRPCError) as failure:
        await anext(stream)

    assert first == ["a", "b"]
    assert failure.value.status is Status.INVALID_ARGUMENT


async def test_leaving_early_stops_reading() -> None:
    source = Source()
    source.send(1)
    stream = batches(aiter(source), limit=10)

    await anext(stream)
    await stream.aclose()

    async with asyncio.timeout(5):
        await source.closed.wait()
