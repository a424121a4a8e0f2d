"""The HTTP/2 layer under grpclib, made safe for peers that mean harm.

Health and reflection answer without credentials, so anything that reaches the server's
socket reaches this layer. grpclib trusts its peer; each module below replaces the part of
grpclib (or h2) that a hostile peer could use, and changes nothing else:

- ``limits``: what a peer may hold (``WireLimits``, from the server's flags) and the fixed
  bounds beside them.
- ``registry``: the server's open connections and their cap, and ``guard_connections``,
  which puts ``GuardedProtocol`` in the server's protocol factory.
- ``protocol`` (grpclib's ``H2Protocol``): one connection's life. The idle timeout, a GOAWAY
  before any connection it closes, reads handed to h2 in slices, and peers that send without
  reading what they are sent.
- ``connection`` (h2's ``H2Connection`` and grpclib's ``Connection``): a stream over the
  concurrency limit is refused instead of the connection, header blocks are decoded up to a
  hard limit, and a connection closed with GOAWAY lingers so that the peer receives it.
- ``processor`` (grpclib's ``EventsProcessor``): bad headers answered per stream, reset
  streams released, and the rapid-reset budget (CVE-2023-44487).
- ``streams`` (grpclib's ``Stream`` and ``Buffer``): a request message refused by its
  5-byte length prefix, body timeouts, and one buffer per stream.

These subclass grpclib's and h2's private classes, so both releases are pinned: the test of
this package fails, naming what to re-check, when the installed versions are not ``PINNED``.
grpclib's underscored parts are reached through ``piinguin.server.grpclib_internals``; h2's
only in ``piinguin.server.guard.connection``.
"""

from piinguin.server.grpclib_internals import PINNED_VERSION

#: The releases whose private classes this package subclasses.
PINNED = {"grpclib": PINNED_VERSION, "h2": "4.4.1"}

__all__ = ["PINNED"]
