"""The HTTP/2 layer against a hostile peer: raw frames over a real socket, one rule broken
at a time, and the answer each must get (issue 12, points 1-5).

Memory under floods is measured from outside a server process in ``test_guard_memory.py``.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpclib
import h2
import h2.errors
import pytest
import uvloop
from grpclib.health.v1.health_pb2 import HealthCheckRequest

from bench.hostile import (
    HEALTH_CHECK,
    REFLECTION,
    Peer,
    grpc_headers,
    held_streams,
    message,
    oversized_message,
    rapid_reset,
    tiny_frames,
)
from piinguin.client import LawfulBasis, PiinguinClient
from piinguin.server import PiinguinServer
from piinguin.server.guard import PINNED
from piinguin.server.guard.limits import HEADER_BYTES_HARD_LIMIT, WireLimits
from piinguin.v1 import PiiRecord, ReadPiiRecordRequest
from tests.conftest import running_server

pytestmark = pytest.mark.socket

HEALTHY = message(HealthCheckRequest(service="piinguin.v1.Piinguin").SerializeToString())
READ = "/piinguin.v1.Piinguin/ReadPiiRecord"


Connect = Callable[[], Awaitable[Peer]]


@asynccontextmanager
async def serving(**limits: Any) -> AsyncIterator[tuple[PiinguinServer, Connect]]:
    """A server with ``limits``, and a way to connect peers that are closed at the end."""
    peers: list[Peer] = []
    async with running_server(wire=WireLimits(**limits), max_message_bytes=64 * 1024) as server:

        async def connect() -> Peer:
            peer = await Peer.connect(server.port)
            peers.append(peer)
            return peer

        try:
            yield server, connect
        finally:
            for peer in peers:
                await peer.close()


async def healthy_call(peer: Peer) -> str:
    stream_id = peer.request(HEALTH_CHECK, HEALTHY)
    await peer.flush()
    return await peer.answer(stream_id)


def test_the_grpclib_and_h2_releases_are_the_ones_the_guard_was_written_for() -> None:
    installed = {"grpclib": grpclib.__version__, "h2": h2.__version__}
    assert installed == PINNED, (
        f"{installed} installed, piinguin.server.guard written for {PINNED}: re-check "
        "grpclib's H2Protocol.connection_made, EventsProcessor (register, "
        "process_request_received, process_stream_reset), Handler (mapping, accept, cancel, "
        "__gc_collect__), Connection (close, create_stream), Stream (init_stream, "
        "recv_data), Buffer and stream.recv_message's recv_data(5) then recv_data(length); "
        "and h2's H2Connection._receive_headers_frame and _decode_headers, before moving PINNED"
    )


# -- 1. rapid reset ------------------------------------------------------------------------


async def test_a_peer_resetting_streams_abusively_gets_goaway_enhance_your_calm(
    log_output: Callable[[], str],
) -> None:
    async with serving(reset_burst=50, reset_rate=1) as (_, connect):
        peer = await connect()
        await rapid_reset(peer, 5000)
        await peer.wait(lambda: peer.goaway is not None)
        assert peer.goaway is not None
        assert peer.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        assert peer.goaway.additional_data == b"too many streams reset"
        # the connection is closed; a new one is served
        await peer.wait(lambda: peer.closed)
        assert await healthy_call(await connect()) == "OK"
    assert '"reason":"too many streams reset"' in log_output()


async def test_streams_reset_before_their_handler_runs_give_back_their_flow_control() -> None:
    """grpclib#217: HEADERS, DATA and RST_STREAM in one read left the stream registered and
    its DATA charged to the connection's window for good. 6 MiB of it is more than the
    4 MiB window: the call after it would never get its body through."""
    async with serving() as (_, connect):
        peer = await connect()
        body = message(b"\0" * 60_000)
        for _ in range(100):
            # without the window back, this waits for good
            await peer.wait(lambda: peer.h2.outbound_flow_control_window >= len(body), 5)
            stream_id = peer.headers()
            peer.data(stream_id, body)
            peer.h2.reset_stream(stream_id)
            await peer.flush()  # the three in one write: one read on the server
        assert await healthy_call(peer) == "OK"
        assert peer.goaway is None


async def test_resets_of_finished_calls_are_not_counted_as_abuse() -> None:
    """Clients commonly reset a stream after its answer (grpc-go after trailers)."""
    async with serving(reset_burst=5, reset_rate=0.001) as (_, connect):
        peer = await connect()
        for _ in range(20):
            stream_id = peer.request(HEALTH_CHECK, HEALTHY, end=False)
            await peer.flush()
            assert await peer.answer(stream_id) == "OK"
            peer.h2.reset_stream(stream_id)
        assert await healthy_call(peer) == "OK"


# -- 2. declared length beyond the limit -------------------------------------------------


@pytest.mark.parametrize("path", [HEALTH_CHECK, REFLECTION, READ])
async def test_a_prefix_declaring_more_than_the_limit_is_refused_before_its_bytes(
    path: str,
) -> None:
    async with serving() as (_, connect):
        peer = await connect()
        stream_id, sent = await oversized_message(
            peer, declared=2**32 - 1, send=8 * 1024 * 1024, path=path
        )
        assert await peer.answer(stream_id) == "RESOURCE_EXHAUSTED"
        assert peer.message_of(stream_id) == (
            f"request of {2**32 - 1} bytes exceeds the limit of {64 * 1024}"
        )
        assert sent < 4 * 1024 * 1024  # far less than the stream's window was taken
        assert await healthy_call(peer) == "OK"


# -- 5. protocol edge cases ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (message(b"abc", length=100), "INVALID_ARGUMENT", "request ended inside a message"),
        (b"\0\0\0", "INVALID_ARGUMENT", "request ended inside a message"),
        (message(b"\x0a\x00", flag=1), "UNIMPLEMENTED", "compressed requests are not supported"),
        (message(b"", flag=7), "INVALID_ARGUMENT", "request message has an invalid flag byte"),
    ],
    ids=["truncated-body", "three-byte-prefix", "compressed", "bad-flag"],
)
async def test_malformed_messages_get_a_clear_status_without_a_traceback(
    body: bytes, status: str, text: str, log_output: Callable[[], str]
) -> None:
    async with serving() as (_, connect):
        peer = await connect()
        for path in (HEALTH_CHECK, READ):
            stream_id = peer.request(path, body)
            await peer.flush()
            assert await peer.answer(stream_id) == status
            assert peer.message_of(stream_id) == text
        assert await healthy_call(peer) == "OK"
    assert "Traceback" not in log_output()
    assert '"exception"' not in log_output()


@pytest.mark.parametrize("missing", [":path", ":method"])
async def test_a_request_without_path_or_method_is_answered(missing: str) -> None:
    async with serving() as (_, connect):
        peer = await connect()
        headers = [(k, v) for k, v in grpc_headers() if k != missing]
        stream_id = peer.headers(headers, end=True)
        await peer.flush()
        assert await peer.answer(stream_id) == "INVALID_ARGUMENT"
        assert peer.message_of(stream_id) == "request has no :method or :path"
        assert await healthy_call(peer) == "OK"


async def open_call(peer: Peer) -> int:
    """A call in flight: its headers sent, its body not yet."""
    stream_id = peer.headers(grpc_headers(READ))
    await peer.flush()
    return stream_id


async def finish_call(peer: Peer, stream_id: int) -> str:
    request = ReadPiiRecordRequest(
        modified_value="k", lawful_basis=LawfulBasis.CONSENT, purpose="ticket 1"
    )
    peer.data(stream_id, message(bytes(request)), end=True)
    await peer.flush()
    return await peer.answer(stream_id)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ((b"x-note", "caf\u00e9".encode()), "INVALID_ARGUMENT"),
        ((b"x-big", b"v" * 70_000), "RESOURCE_EXHAUSTED"),
    ],
    ids=["non-ascii", "over-64KiB"],
)
async def test_a_bad_header_fails_its_stream_and_spares_the_others(
    header: tuple[bytes, bytes], status: str
) -> None:
    async with serving() as (_, connect):
        peer = await connect()
        in_flight = await open_call(peer)
        stream_id = peer.headers([*grpc_headers(), header], end=True)
        await peer.flush()
        assert await peer.answer(stream_id) == status
        assert await finish_call(peer, in_flight) == "NOT_FOUND"
        assert peer.goaway is None


async def test_a_header_block_too_large_to_decode_closes_with_goaway() -> None:
    async with serving() as (_, connect):
        peer = await connect()
        stream_id = peer.headers(
            [*grpc_headers(), (b"x-huge", b"v" * (HEADER_BYTES_HARD_LIMIT + 1))], end=True
        )
        await peer.flush()
        await peer.wait(lambda: peer.goaway is not None)
        assert peer.outcome(stream_id) is not None
        assert await healthy_call(await connect()) == "OK"


async def test_streams_over_the_announced_limit_are_refused_one_by_one() -> None:
    async with serving(max_concurrent_streams=4) as (_, connect):
        peer = await connect()
        assert peer.h2.remote_settings.max_concurrent_streams == 4
        assert peer.h2.remote_settings.max_header_list_size == 64 * 1024
        peer.ignore_stream_limit()
        held = [await open_call(peer) for _ in range(4)]
        extra = await held_streams(peer, 3)
        for stream_id in extra:
            assert await peer.answer(stream_id) == "reset REFUSED_STREAM"
        for stream_id in held:
            assert await finish_call(peer, stream_id) == "NOT_FOUND"
        assert await healthy_call(peer) == "OK"
        assert peer.goaway is None


async def test_a_flood_of_one_byte_frames_holds_the_event_loop_only_briefly() -> None:
    """h2 takes some 17 µs a frame: a 256 KiB read of one-byte frames fed at once held the
    loop, and every other connection, for half a second."""
    longest_gap = 0.0
    flooding = True

    async def heartbeat() -> None:
        nonlocal longest_gap
        last = time.monotonic()
        while flooding:
            await asyncio.sleep(0.002)
            now = time.monotonic()
            longest_gap = max(longest_gap, now - last)
            last = now

    # As the server's entry point does: a full collection over the whole test process
    # would be a pause of its own.
    gc.freeze()
    try:
        async with serving(body_timeout=30) as (_, connect):
            peer = await connect()
            beating = asyncio.create_task(heartbeat())
            stream_id = await tiny_frames(peer, 60_000)
            assert await peer.answer(stream_id) == "INVALID_ARGUMENT"  # 60,000 zero bytes
            flooding = False
            await beating
    finally:
        gc.unfreeze()
    assert longest_gap < 0.3  # 0.7 to 0.9 s when a read went to h2 whole


# -- 4. idle and slow peers ----------------------------------------------------------------


async def test_an_idle_connection_is_closed_with_goaway_and_a_busy_one_is_not() -> None:
    async with serving(idle_timeout=0.3, body_timeout=30) as (_, connect):
        idle, busy = await connect(), await connect()
        assert await healthy_call(idle) == "OK"
        in_flight = await open_call(busy)
        started = time.monotonic()
        await idle.wait(lambda: idle.goaway is not None)
        assert idle.goaway is not None
        assert idle.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert 0.25 < time.monotonic() - started < 3
        await asyncio.sleep(0.5)
        assert busy.goaway is None
        assert await finish_call(busy, in_flight) == "NOT_FOUND"


def test_a_request_the_loop_had_no_time_to_read_keeps_its_connection_open() -> None:
    """uvloop runs due timers before it reads sockets: after a callback held the loop up,
    the idle timer must not take a connection whose request waits unread for idle."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with serving(idle_timeout=0.3) as (_, connect):
            peer = await connect()
            await asyncio.sleep(0.25)
            stream_id = peer.request(HEALTH_CHECK, HEALTHY)
            wake, blocker = socket.socketpair()

            def busy_callback() -> None:
                # a socket's callback, as a flooded connection's read is
                loop.remove_reader(blocker)
                peer.writer.write(peer.h2.data_to_send())  # arrives while the loop is held
                time.sleep(0.2)

            loop.add_reader(blocker, busy_callback)
            wake.send(b"!")
            try:
                assert await peer.answer(stream_id) == "OK"
                assert peer.goaway is None
            finally:
                wake.close()
                blocker.close()

    uvloop.run(scenario())


async def test_a_request_whose_body_never_completes_is_answered_after_the_body_timeout() -> None:
    async with serving(body_timeout=0.3) as (_, connect):
        peer = await connect()
        bodiless = peer.request(HEALTH_CHECK, None, end=False)
        partial = peer.request(READ, message(b"\x0a\x01", length=50), end=False)
        await peer.flush()
        started = time.monotonic()
        for stream_id in (bodiless, partial):
            assert await peer.answer(stream_id) == "DEADLINE_EXCEEDED"
            assert peer.message_of(stream_id) == "request message did not arrive in time"
        assert 0.25 < time.monotonic() - started < 3
        assert await healthy_call(peer) == "OK"


async def test_a_client_stream_may_wait_before_its_first_message() -> None:
    """Bidirectional streams (reflection, the legacy API) send when they have something."""
    request = bytes.fromhex("3a00")  # ServerReflectionRequest{list_services: ""}
    async with serving(body_timeout=0.2) as (_, connect):
        peer = await connect()
        stream_id = peer.request(REFLECTION, None, end=False)
        await peer.flush()
        await asyncio.sleep(0.5)
        assert peer.outcome(stream_id) is None
        peer.data(stream_id, message(request), end=True)
        await peer.flush()
        assert await peer.answer(stream_id) == "OK"


async def test_over_the_connection_cap_the_oldest_idle_connection_makes_room() -> None:
    async with serving(max_connections=2) as (server, connect):
        idle = await connect()
        busy = await connect()
        in_flight = await open_call(busy)
        newcomer = await connect()
        assert await healthy_call(newcomer) == "OK"
        await idle.wait(lambda: idle.goaway is not None)
        assert idle.goaway is not None
        assert idle.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert await finish_call(busy, in_flight) == "NOT_FOUND"
        assert len(server.connections) == 2


async def test_over_the_connection_cap_with_every_connection_busy_the_newcomer_is_refused() -> None:
    async with serving(max_connections=2) as (server, connect):
        busy = [await connect() for _ in range(2)]
        calls = [await open_call(peer) for peer in busy]
        refused = await Peer.connect(server.port)
        try:
            await refused.wait(lambda: refused.goaway is not None)
            assert refused.goaway is not None
            assert refused.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
            assert refused.goaway.additional_data == b"too many connections"
        finally:
            await refused.close()
        for peer, stream_id in zip(busy, calls, strict=True):
            assert await finish_call(peer, stream_id) == "NOT_FOUND"


async def test_an_ordinary_client_is_not_affected() -> None:
    """The guard is invisible to a well-behaved client, bulk calls and big messages too."""
    values = {f"k{i}": "v" * 40_000 for i in range(40)}
    async with (
        running_server(wire=WireLimits(max_concurrent_streams=8)) as server,
        PiinguinClient(f"127.0.0.1:{server.port}") as client,
    ):
        await client.create_records(
            [PiiRecord(modified_value=k, original_value=v) for k, v in values.items()]
        )
        reads = await asyncio.gather(
            *(
                client.read_record(key, basis=LawfulBasis.CONSENT, purpose="ticket 1")
                for key in values
            )
        )
        assert [r.original_value for r in reads] == list(values.values())
