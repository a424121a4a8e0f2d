"""Write coalescing: a connection's frames of one loop turn leave in one socket write."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from grpclib.const import Status

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.server import PiinguinServer
from piinguin.server.coalesce import EAGER_BYTES, CoalescingProtocol, CoalescingTransport
from piinguin.server.grpclib_internals import protocol_factory
from piinguin.v1 import ReadPiiRecordsRequest, ReadPiiRecordsResponse
from tests.conftest import running_server


class RecordingTransport(asyncio.Transport):
    """The socket end of a connection: records each write the server makes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0  # the kernel took everything

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)


async def turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_together_in_order() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"headers|")
    transport.write(b"")
    transport.write(bytearray(b"data|"))
    transport.write(b"trailers")
    assert real.writes == []  # nothing leaves before the turn is over
    await turns(1)
    assert real.writes == [b"headers|data|trailers"]

    transport.write(b"next")
    await turns(1)
    assert real.writes == [b"headers|data|trailers", b"next"]


async def test_writelines_and_the_buffer_size_count_what_is_gathered() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"first|")
    transport.writelines([b"second|", b"third"])
    assert transport.get_write_buffer_size() == len(b"first|second|third")
    await turns(1)
    assert real.writes == [b"first|second|third"]
    assert transport.get_write_buffer_size() == 0


async def test_a_turn_that_gathers_a_lot_writes_it_at_once() -> None:
    """Past EAGER_BYTES the real transport gets the bytes within the turn, so its
    back-pressure (pause_writing) can stop grpclib's senders in that turn."""
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    chunk = b"x" * (EAGER_BYTES // 4)
    for _ in range(4):
        transport.write(chunk)
    assert real.writes == [chunk * 4]
    transport.write(b"tail")
    assert len(real.writes) == 1
    await turns(1)
    assert real.writes == [chunk * 4, b"tail"]


async def test_a_transport_closing_on_its_own_still_gets_writes_at_once() -> None:
    """After the peer's EOF the transport sends what it is given until the connection
    is lost, which can come before the end of the turn."""
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"gathered|")
    real.closed = True  # closing, by itself
    transport.write(b"late")
    assert real.writes == [b"gathered|", b"late"]


async def test_close_sends_what_is_pending_first_and_later_writes_are_dropped() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"goaway")
    transport.close()
    assert real.writes == [b"goaway"]
    assert real.closed
    transport.write(b"too late")
    await turns(1)
    assert real.writes == [b"goaway"]


def h2_client() -> h2.connection.H2Connection:
    """The client end, its preface ready to send."""
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="ascii")
    )
    client.initiate_connection()
    return client


def send_call(
    client: h2.connection.H2Connection, stream_id: int, path: str, message: bytes = b""
) -> None:
    """A unary gRPC request: headers, then the length-prefixed message."""
    client.send_headers(
        stream_id,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("te", "trailers"),
            ("content-type", "application/grpc"),
        ],
    )
    client.send_data(stream_id, struct.pack(">?I", False, len(message)) + message, end_stream=True)


def health_check(stream_id: int, client: h2.connection.H2Connection) -> None:
    send_call(client, stream_id, "/grpc.health.v1.Health/Check")


def frames(client: h2.connection.H2Connection, write: bytes) -> list[tuple[str, int]]:
    """What one server write carries, as (event name, stream id) for the stream events."""
    return [
        (type(event).__name__, event.stream_id)
        for event in client.receive_data(write)
        if isinstance(
            event,
            h2.events.ResponseReceived | h2.events.DataReceived | h2.events.TrailersReceived,
        )
    ]


Connected = tuple[CoalescingProtocol, RecordingTransport, h2.connection.H2Connection]


def served_protocol(server: PiinguinServer) -> CoalescingProtocol:
    """A connection's protocol, as the server's own factory makes it."""
    protocol = protocol_factory(server.grpc)()
    assert isinstance(protocol, CoalescingProtocol)
    return protocol


async def connect(server: PiinguinServer) -> Connected:
    """A connection made by the server's own protocol factory, past the HTTP/2 preface."""
    protocol = served_protocol(server)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    client = h2_client()
    protocol.data_received(client.data_to_send())
    await turns()
    for write in transport.writes:  # the server's preface and acks
        client.receive_data(write)
    transport.writes.clear()
    return protocol, transport, client


async def test_a_unary_response_is_one_socket_write() -> None:
    async with running_server() as server:
        protocol, transport, client = await connect(server)
        health_check(1, client)
        protocol.data_received(client.data_to_send())
        await turns()
        answers = [frames(client, write) for write in transport.writes]
        # grpclib alone writes the headers, the message and the trailers separately
        assert [
            ("ResponseReceived", 1),
            ("DataReceived", 1),
            ("TrailersReceived", 1),
        ] in answers


async def test_calls_finishing_in_the_same_turn_share_one_write() -> None:
    async with running_server() as server:
        protocol, transport, client = await connect(server)
        for stream_id in (1, 3, 5):
            health_check(stream_id, client)
        protocol.data_received(client.data_to_send())
        await turns()
        answers = [frames(client, write) for write in transport.writes]
        answered = [answer for answer in answers if answer]
        assert len(answered) == 1
        assert sorted(answered[0]) == sorted(
            (name, stream_id)
            for stream_id in (1, 3, 5)
            for name in ("ResponseReceived", "DataReceived", "TrailersReceived")
        )


async def test_the_loop_s_flow_control_and_loss_reach_grpclib() -> None:
    async with running_server() as server:
        protocol, transport, _ = await connect(server)
        write_ready = protocol.h2.connection.write_ready
        protocol.pause_writing()
        assert not write_ready.is_set()
        protocol.resume_writing()
        assert write_ready.is_set()
        protocol.connection_lost(None)
        assert transport.closed
        assert protocol.h2.connection.is_closing()


async def test_large_concurrent_responses_arrive_whole_over_a_socket() -> None:
    """Megabytes on one connection: many flow-control windows and the socket's own
    back-pressure (pause_writing) pass through the coalescing transport intact."""
    values = {f"k{i}": f"{i:02d}" + "x" * (60_000 + i) for i in range(20)}
    async with running_server() as server, PiinguinClient(f"127.0.0.1:{server.port}") as client:
        for key, value in values.items():
            await client.create_record(PiiRecord(modified_value=key, original_value=value))
        reads = [
            client.read_records(list(values), basis=LawfulBasis.CONSENT, purpose="test")
            for _ in range(4)
        ]
        for results in await asyncio.gather(*reads):
            assert [result.status for result in results] == [Status.OK] * len(values)
            got = [result.record.original_value if result.record else None for result in results]
            assert got == list(values.values())


async def test_a_client_that_half_closes_after_its_request_gets_its_answer() -> None:
    """The request, then EOF: asyncio closes the transport on the server side at once,
    and the answer written in the next turn must still go out (over a real socket)."""
    async with running_server() as server:
        for _ in range(5):
            client = h2_client()
            health_check(1, client)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(client.data_to_send())
            writer.write_eof()
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert ("TrailersReceived", 1) in frames(client, answer)


class PausingTransport(RecordingTransport):
    """A socket whose kernel buffer takes EAGER_BYTES: past that it pauses the protocol,
    as asyncio's transports do at their high-water mark, until ``drain``."""

    def __init__(self, protocol: CoalescingProtocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.buffered = 0
        self.paused = False

    def write(self, data: Any) -> None:
        super().write(data)
        self.buffered += len(data)
        if not self.paused and self.buffered > EAGER_BYTES:
            self.paused = True
            self.protocol.pause_writing()

    def drain(self) -> None:
        self.buffered = 0
        if self.paused:
            self.paused = False
            self.protocol.resume_writing()


async def test_a_large_response_waits_for_a_full_socket_within_its_turn() -> None:
    values = [f"{i:02d}" + "x" * 60_000 for i in range(20)]  # a 1.2 MB answer
    async with running_server() as server:
        async with PiinguinClient(f"127.0.0.1:{server.port}") as vault:
            for i, value in enumerate(values):
                await vault.create_record(PiiRecord(modified_value=f"k{i}", original_value=value))
        protocol = served_protocol(server)
        transport = PausingTransport(protocol)
        protocol.connection_made(transport)
        client = h2_client()
        # windows far larger than the answer: only the socket can hold the server back
        client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        client.increment_flow_control_window(2**30)
        request = bytes(
            ReadPiiRecordsRequest(
                modified_values=[f"k{i}" for i in range(20)],
                lawful_basis=LawfulBasis.CONSENT,
                purpose="test",
            )
        )
        send_call(client, 1, "/piinguin.v1.Piinguin/ReadPiiRecords", request)
        protocol.data_received(client.data_to_send())
        await turns(10)

        # grpclib stopped at the frame that filled the socket, not at the end of the answer
        assert transport.paused
        assert transport.buffered < 2 * EAGER_BYTES
        for _ in range(100):
            transport.drain()
            await turns(1)
        events = client.receive_data(b"".join(transport.writes))
        assert any(isinstance(event, h2.events.TrailersReceived) for event in events)
        body = b"".join(event.data for event in events if isinstance(event, h2.events.DataReceived))
        response = ReadPiiRecordsResponse.parse(body[5:])  # past the gRPC message prefix
        assert [r.record.original_value if r.record else None for r in response.results] == values
