"""grpclib's private parts, as ``piinguin.server.grpclib_internals`` uses them.

If the first test fails, grpclib changed: read that module's docstring, re-check each part
it names in the new grpclib's ``server.py``, ``protocol.py`` and ``_typing.py``, and only
then move ``PINNED_VERSION``. The other tests say which part broke.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Callable

import grpclib
import grpclib._typing
import h2.config
import h2.connection
import pytest
from grpclib.config import Configuration
from grpclib.encoding.proto import ProtoCodec
from grpclib.health.service import Health
from grpclib.protocol import Connection, EventsProcessor, H2Protocol
from grpclib.server import Handler, Server

from piinguin.server.grpclib_internals import (
    PINNED_VERSION,
    close_connection,
    connection_transport,
    detach_transport,
    forget_finished_calls,
    protocol_factory,
    set_nodelay,
    wrap_protocol_factory,
)

pytestmark = pytest.mark.socket


def test_the_installed_grpclib_is_the_one_these_uses_were_checked_against() -> None:
    assert grpclib.__version__ == PINNED_VERSION, (
        f"grpclib is {grpclib.__version__}, but piinguin.server.grpclib_internals was "
        f"checked against {PINNED_VERSION}: re-check Server._protocol_factory, "
        "H2Protocol.processor (EventsProcessor.close), grpclib._typing "
        "(IServable, IServerMethodFunc), protocol._set_nodelay, Connection._transport "
        "(and what Connection.close does with it) and Handler.__gc_collect__ in the new "
        "release before moving PINNED_VERSION"
    )


def test_the_typing_protocols_are_still_there() -> None:
    assert inspect.isclass(grpclib._typing.IServable)
    assert "__mapping__" in vars(grpclib._typing.IServable)
    assert "__call__" in vars(grpclib._typing.IServerMethodFunc)


def test_the_protocol_factory_is_a_method_taking_nothing() -> None:
    factory = vars(Server)["_protocol_factory"]
    assert list(inspect.signature(factory).parameters) == ["self"]


async def test_a_wrapped_factory_makes_every_connection_and_the_port_is_found() -> None:
    server = Server([Health()])
    made: list[H2Protocol] = []

    def recording(make: Callable[[], H2Protocol]) -> Callable[[], H2Protocol]:
        def make_and_record() -> H2Protocol:
            protocol = make()
            made.append(protocol)
            return protocol

        return make_and_record

    wrap_protocol_factory(server, recording)
    assert protocol_factory(server).__name__ == "make_and_record"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await server.start(sock=listener)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if made and hasattr(made[0], "processor"):
                break
            await asyncio.sleep(0.01)
        [protocol] = made
        assert isinstance(protocol, H2Protocol)
        # Set in connection_made, and what close_connection closes.
        assert isinstance(protocol.processor, EventsProcessor)
        close_connection(protocol, "test over")
        await asyncio.wait_for(reader.read(), 5)  # the server's settings, then its end
        assert reader.at_eof()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_the_processor_closes_with_a_reason() -> None:
    parameters = inspect.signature(EventsProcessor.close).parameters
    assert list(parameters) == ["self", "reason"]


async def test_closing_a_connection_not_yet_made_does_nothing() -> None:
    server = Server([Health()])
    protocol = protocol_factory(server)()
    assert isinstance(protocol, H2Protocol)
    close_connection(protocol, "never made")
    assert not hasattr(protocol, "processor")


def test_nodelay_is_set_on_a_tcp_socket_and_nothing_else() -> None:
    # grpclib looks at the protocol number: a socket made with proto 0 is passed over.
    tcp_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    with tcp_socket as tcp, socket.socket(socket.AF_UNIX) as unix:
        set_nodelay(tcp)
        set_nodelay(unix)
        assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_a_detached_transport_is_the_connection_s_no_longer_and_stays_open() -> None:
    transport = FakeTransport()
    h2_connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    connection = Connection(h2_connection, transport, config=Configuration())
    assert connection_transport(connection) is transport
    assert not connection.is_closing()
    assert hasattr(h2_connection, "_frame_dispatch_table")  # the cycle grpclib's close breaks

    detach_transport(connection)

    assert connection.is_closing()
    with pytest.raises(AttributeError):
        connection_transport(connection)
    assert not hasattr(h2_connection, "_frame_dispatch_table")
    connection.close()
    assert not transport.closed


async def test_a_handler_forgets_its_finished_calls() -> None:
    handler = Handler({}, ProtoCodec(), None, None)  # type: ignore[arg-type]
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished
    handler._cancelled.add(finished)

    forget_finished_calls(handler)

    assert handler._cancelled == set()
