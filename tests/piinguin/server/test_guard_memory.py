"""Memory under the floods of issue 12, measured from outside: ``piinguin-server`` runs
as its own process, started with the HTTP/2 flags, and its resident set is read from
/proc/PID/status before, during and after each flood.

Python seldom gives freed memory back to the system, so "released" is shown the way it
can be from outside: a second round of the same flood, after the first one's connections
are gone, adds (almost) nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h2.errors
import pytest
import pytest_asyncio

from bench.hostile import (
    Peer,
    held_streams,
    oversized_message,
    rapid_reset,
    tiny_frames,
)

from .conftest import BIN, Running, free_port, running

pytestmark = [pytest.mark.socket, pytest.mark.asyncio(loop_scope="module")]

MB = 1024 * 1024
LIMIT = 1024 * 1024  # --max-message-bytes


def status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as lines:
        for line in lines:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


class Memory:
    """The server's resident set now, and its peak since ``start`` (VmHWM, reset through
    /proc/PID/clear_refs), so a flood's high point is seen however briefly it lasted."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = 0

    def start(self) -> None:
        with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        self.before = status(self.pid, "VmRSS")

    @property
    def peak_growth(self) -> int:
        return status(self.pid, "VmHWM") - self.before

    @property
    def now(self) -> int:
        return status(self.pid, "VmRSS")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def vault() -> AsyncIterator[Running]:
    port = free_port()
    argv = [
        str(BIN / "piinguin-server"),
        "--insecure-no-auth",
        f"--port={port}",
        "--log-level=error",
        f"--max-message-bytes={LIMIT}",
        "--max-connections=200",
        "--idle-timeout=1",
        "--body-timeout=3",
    ]
    async with running(argv, port) as server:
        yield server


async def flooded(vault: Running, count: int) -> list[Peer]:
    return [await Peer.connect(vault.port) for _ in range(count)]


async def close_all(peers: list[Peer]) -> None:
    for peer in peers:
        await peer.close()
    await asyncio.sleep(0.3)


async def test_a_rapid_reset_flood_costs_a_few_megabytes_and_ends_in_goaway(
    vault: Running,
) -> None:
    """On main: 60,000 resets on one connection, +450 MB, kept after it closed."""
    memory = Memory(vault.process.pid)
    first = memory.now
    for _ in range(2):
        memory.start()
        (peer,) = await flooded(vault, 1)
        sent = await rapid_reset(peer, 60_000)
        await peer.wait(lambda: peer.goaway is not None)  # noqa: B023
        assert peer.goaway is not None
        assert peer.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        assert sent < 60_000
        assert memory.peak_growth < 6 * MB
        await close_all([peer])
    assert memory.now - first < 6 * MB


async def test_a_prefix_declaring_4_gib_is_refused_without_reading_the_rest(
    vault: Running,
) -> None:
    """On main: 64 MiB after a 4 GiB prefix were buffered whole, then UNKNOWN."""
    memory = Memory(vault.process.pid)
    memory.start()
    (peer,) = await flooded(vault, 1)
    stream_id, sent = await oversized_message(peer, declared=2**32 - 1, send=64 * MB)
    assert await peer.answer(stream_id) == "RESOURCE_EXHAUSTED"
    assert sent <= 4 * MB  # one flow-control window: nothing was acknowledged
    assert memory.peak_growth < 4 * MB
    await close_all([peer])


async def test_one_byte_data_frames_cost_memory_in_proportion_to_their_bytes(
    vault: Running,
) -> None:
    """On main: ~457 bytes of memory per payload byte (some 68 MB for these 150 KB)."""
    memory = Memory(vault.process.pid)
    count = 150_000
    memory.start()
    (peer,) = await flooded(vault, 1)
    stream_id = await tiny_frames(peer, count)
    # complete before the body timeout: Health decodes the zeros (or refuses them)
    assert await peer.answer(stream_id) in {"OK", "INVALID_ARGUMENT"}
    assert memory.peak_growth < 8 * count + 4 * MB
    await close_all([peer])


async def test_idle_connections_and_bodiless_requests_are_let_go(vault: Running) -> None:
    """On main: idle connections and requests without a body were kept forever; with a
    low file limit the idle ones locked out a legitimate caller."""
    memory = Memory(vault.process.pid)
    memory.start()
    idle = await flooded(vault, 150)
    holders = await flooded(vault, 10)
    held = [await held_streams(peer, 100) for peer in holders]  # 1,000 requests
    # past the cap of 200: the oldest idle connections make room for these
    late = await flooded(vault, 60)
    for peer, streams in zip(holders, held, strict=True):
        for stream_id in streams:
            assert await peer.answer(stream_id) == "DEADLINE_EXCEEDED"
    for peer in idle + late:
        await peer.wait(lambda: peer.goaway is not None)  # noqa: B023
        assert peer.goaway is not None
        assert peer.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    # what they cost while they lasted: some 25 KB a connection, 12 KB a held request
    assert memory.peak_growth < 220 * 32 * 1024 + 1000 * 16 * 1024
    await close_all(idle + holders + late)
