"""Every part of grpclib Piinguin uses that grpclib does not offer as public API.

grpclib has no seam for these; each function below names the private part it touches, so
an upgrade has one module to re-check (``tests/piinguin/server/test_grpclib_internals.py``
fails loudly, naming them, when the installed grpclib is not ``PINNED_VERSION``).

- ``Server._protocol_factory``: the method asyncio calls for each new connection. The only
  place to put a protocol between the event loop and grpclib's (write coalescing).
- ``H2Protocol.processor``: set in ``connection_made``; its ``close(reason)`` ends the
  connection's streams. ``Server.close()`` leaves client connections open; this closes them.
- ``grpclib._typing``: the protocols of servables and server methods, for type checking only.

The HTTP/2 layer's subclasses of grpclib's ``H2Protocol``, ``EventsProcessor``,
``Connection`` and ``Stream`` are a concern of their own, in ``piinguin.server.guard``,
pinned to the same release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from grpclib.protocol import H2Protocol
from grpclib.server import Server

if TYPE_CHECKING:
    from grpclib._typing import IServable, IServerMethodFunc

__all__ = [
    "PINNED_VERSION",
    "IServable",
    "IServerMethodFunc",
    "close_connection",
    "protocol_factory",
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
