"""What a peer of the server may hold: the limits set by flags, and the fixed ones.

Apart from the classes that enforce them, so that the server's configuration can name
``WireLimits`` without loading grpclib's and h2's internals, and so that every bound the
HTTP/2 guard holds peers to is read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WireLimits:
    """What one peer may hold; the first five are flags (see ``ServerConfig``)."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_streams: int = 100
    max_connections: int = 1000
    idle_timeout: float = 300.0
    body_timeout: float = 30.0
    #: Announced in SETTINGS_MAX_HEADER_LIST_SIZE; a larger request is refused.
    max_header_bytes: int = 64 * 1024
    #: Resets of running streams a connection may make at once, and per second after.
    reset_burst: int = 1000
    reset_rate: float = 100.0


#: Header blocks up to this size are decoded (HPACK state must stay in step) and refused
#: per stream; beyond it the connection cannot continue and gets GOAWAY.
HEADER_BYTES_HARD_LIMIT = 1024 * 1024
#: Bytes waiting to be sent to a peer that has stopped reading while it keeps sending
#: (each ping, reset or refusal it sends makes an answer); a legitimate slow reader stays
#: under a few frames per stream.
MAX_UNSENT_BYTES = 4 * 1024 * 1024
#: A read larger than this goes to h2 in slices of it, so that one connection's flood of
#: tiny frames cannot hold the event loop (and every other connection) for long.
SLICE_BYTES = 16 * 1024
TURN_SECONDS = 0.01
#: How long after finding a connection idle it is looked at again before it is closed.
IDLE_RECHECK_SECONDS = 0.1
#: How long a connection closed with GOAWAY reads and drops what its peer still sends.
LINGER_SECONDS = 1.0
