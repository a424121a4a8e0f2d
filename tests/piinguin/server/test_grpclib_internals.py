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
import pytest
from grpclib.health.service import Health
from grpclib.protocol import EventsProcessor, H2Protocol
from grpclib.server import Server

from piinguin.server.grpclib_internals import (
    PINNED_VERSION,
    close_connection,
    protocol_factory,
    wrap_protocol_factory,
)

pytestmark = pytest.mark.socket


def test_the_installed_grpclib_is_the_one_these_uses_were_checked_against() -> None:
    assert grpclib.__version__ == PINNED_VERSION, (
        f"grpclib is {grpclib.__version__}, but piinguin.server.grpclib_internals was "
        f"checked against {PINNED_VERSION}: re-check Server._protocol_factory, "
        "H2Protocol.processor (EventsProcessor.close) and grpclib._typing "
        "(IServable, IServerMethodFunc) in the new release before moving PINNED_VERSION"
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
