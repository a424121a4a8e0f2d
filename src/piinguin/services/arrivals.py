"""Messages of a client stream in batches of whatever has already arrived.

A bidirectional stream answers each message as soon as it can, so nothing waits for the
end of the stream; but messages that arrive while a batch is being processed go to
storage together in the next one. Order is kept. At most ``limit`` messages are read
ahead, so a fast sender is held back by HTTP/2 flow control rather than by our memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def _read(messages: AsyncIterator[T], queue: asyncio.Queue[T]) -> None:
    async for message in messages:
        await queue.put(message)


async def batches(messages: AsyncIterator[T], limit: int) -> AsyncGenerator[list[T], None]:
    """Non-empty batches of at most ``limit`` messages, in arrival order.

    An error reading the stream (an undecodable message) is raised after the batches of
    the messages before it.
    """
    queue: asyncio.Queue[T] = asyncio.Queue(limit)
    reader = asyncio.create_task(_read(messages, queue))
    getter: asyncio.Task[T] | None = None
    try:
        while True:
            batch: list[T] = []
            if queue.empty():
                getter = asyncio.create_task(queue.get())
                await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    batch.append(getter.result())
                else:
                    # A getter woken but not yet run leaves its message in the queue.
                    getter.cancel()
                    if queue.empty():
                        reader.result()  # the stream ended: raise its error, if any
                        return
            while len(batch) < limit and not queue.empty():
                batch.append(queue.get_nowait())
            yield batch
    finally:
        if reader.done() and not reader.cancelled():
            reader.exception()  # the caller left before it was due: mark it seen
        reader.cancel()
        if getter is not None:
            getter.cancel()
