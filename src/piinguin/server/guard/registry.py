"""The server's open connections: the ``--max-connections`` cap, and who makes room.

A registry shared by every connection of one server, and the one place that installs the
guard: ``guard_connections`` puts ``GuardedProtocol`` in the server's protocol factory,
keeping the handler grpclib made for the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from grpclib.protocol import H2Protocol
from grpclib.server import Handler, Server
from h2.config import H2Configuration
from h2.errors import ErrorCodes

from piinguin.server.grpclib_internals import wrap_protocol_factory
from piinguin.server.guard.protocol import GuardedProtocol

if TYPE_CHECKING:
    from piinguin.server.guard.limits import WireLimits


class Connections:
    """The server's open connections: the cap, and who to close when it is reached."""

    def __init__(self, limits: WireLimits) -> None:
        self.limits = limits
        self._open: set[GuardedProtocol] = set()

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, protocol: GuardedProtocol) -> bool:
        if len(self._open) >= self.limits.max_connections:
            # Idle connections must not lock out a caller: the one idle longest makes room.
            idle = min(
                (p for p in self._open if p.is_idle()), key=lambda p: p.last_call, default=None
            )
            if idle is None:
                return False
            idle.goaway(ErrorCodes.NO_ERROR, "connection limit reached, closing idle connection")
        self._open.add(protocol)
        return True

    def remove(self, protocol: GuardedProtocol) -> None:
        self._open.discard(protocol)


def guard_connections(server: Server, limits: WireLimits) -> Connections:
    """Serve ``server``'s connections through ``GuardedProtocol``; call before anything
    else wraps its protocol factory, and before the server starts."""
    connections = Connections(limits)

    def guarding(make_protocol: Callable[[], H2Protocol]) -> Callable[[], GuardedProtocol]:
        def guarded_protocol() -> GuardedProtocol:
            # grpclib's own protocol registers its handler with the server; keep its parts.
            made = make_protocol()
            handler = cast(Handler, made.handler)
            return GuardedProtocol(handler, made.config, _H2_CONFIG, connections)

        return guarded_protocol

    wrap_protocol_factory(server, guarding)
    return connections


# grpclib's settings, except that headers come as bytes: the processor decodes them, so a
# byte that is not ASCII fails one stream, not the whole batch of frames it arrived in.
_H2_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_inbound_headers=False,
    normalize_outbound_headers=False,
)
