"""Every part of grpclib Piinguin uses that grpclib does not offer as public API.

grpclib has no seam for these; each function below names the private part it touches, so
an upgrade has one module to re-check (``tests/piinguin/server/test_grpclib_internals.py``
fails loudly, naming them, when the installed grpclib is not ``PINNED_VERSION``).

- ``Server._protocol_factory``: the method asyncio calls for each new connection. The only
  place to put a protocol between the event loop and grpclib's (write coalescing).
- ``H2Protocol.processor``: set in ``connection_made``; its ``close(reason)`` ends the
  connection's streams. ``Server.close()`` leaves client connections open; this closes them.
- ``grpclib._typing``: the protocols of servables and server methods, for type checking only.
- ``grpclib.protocol._set_nodelay``: what grpclib's ``H2Protocol.connection_made`` does to
  a new socket, for the HTTP/2 guard's own ``connection_made``.
- ``Connection._transport``: the guard's connection makes its streams with it, and takes it
  from grpclib before closing, to let a GOAWAY reach the peer (grpclib closes at once).
- ``Handler.__gc_collect__`` (grpclib's ``_GC``): drops a handler's finished and cancelled
  tasks, which grpclib does only every tenth call.

The HTTP/2 guard's subclasses of grpclib's ``H2Protocol``, ``EventsProcessor``,
``Connection`` and ``Stream`` (and h2's ``H2Connection``) are a concern of their own, in
``piinguin.server.guard``, pinned to the same release; what they need of grpclib beyond
overriding its methods is here.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from grpclib.protocol import Connection, H2Protocol, _set_nodelay
from grpclib.server import Handler, Server

if TYPE_CHECKING:
    from grpclib._typing import IServable, IServerMethodFunc

__all__ = [
    "PINNED_VERSION",
    "IServable",
    "IServerMethodFunc",
    "close_connection",
    "connection_transport",
    "detach_transport",
    "forget_finished_calls",
    "protocol_factory",
    "set_nodelay",
    "wrap_protocol_factory",
]

#: The grpclib release these uses were checked against.
PINNED_VERSION = "0.4.9"

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


def protocol_factory(server: Server) -> ProtocolFactory:
    """What ``server`` makes each new connection's protocol with now."""
    return server._protocol_factory


def wrap_protocol_factory(
    server: Server, wrap: Callable[[Callable[[], H2Protocol]], ProtocolFactory]
) -> None:
    """Make ``server``'s connections with ``wrap(grpclib's own factory)``: once, before
    ``start`` (grpclib hands its factory to the event loop there)."""
    server._protocol_factory = wrap(server._protocol_factory)  # type: ignore[method-assign,assignment]


def close_connection(protocol: H2Protocol, reason: str) -> None:
    """End ``protocol``'s connection and its streams; nothing to do before it is made."""
    processor = getattr(protocol, "processor", None)
    if processor is not None:
        processor.close(reason)


def set_nodelay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off on a TCP socket, as grpclib does for each connection."""
    _set_nodelay(sock)


def connection_transport(connection: Connection) -> asyncio.Transport:
    """The transport ``connection`` writes to; AttributeError once it is closed (or
    detached)."""
    return connection._transport


def detach_transport(connection: Connection) -> None:
    """What grpclib's ``Connection.close`` does but close the transport: drop it (the
    connection then counts as closing, and its ``close`` leaves the transport alone) and
    break the cycle through h2's dispatch table, for memory's sake."""
    del connection._transport
    h2 = connection._connection
    if hasattr(h2, "_frame_dispatch_table"):
        del h2._frame_dispatch_table


def forget_finished_calls(handler: Handler) -> None:
    """Let go of ``handler``'s finished and cancelled tasks, and through them their
    streams, now rather than at its next tenth call."""
    handler.__gc_collect__()
