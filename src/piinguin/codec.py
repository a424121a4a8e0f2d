"""The wire codec behind grpclib's codec seam: upb does the wire work, handlers keep
betterproto2's dataclasses, and requests get a size limit and strict decoding.

betterproto2's own decoder is lenient as well as slow: truncated fields, corrupt wire types
and bad UTF-8 can come out as a half-filled message (even ``None`` in a string field). upb
rejects them, so a request that upb cannot parse is INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Any

import betterproto2
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError

from piinguin.wire import from_wire, to_wire


class UpbCodec(ProtoCodec):
    """betterproto2 messages through upb (``piinguin.wire``); protobuf's own messages
    (health, reflection) as grpclib's ProtoCodec handles them."""

    def encode(self, message: Any, message_type: Any) -> bytes:
        if isinstance(message, betterproto2.Message):
            if not isinstance(message, message_type):
                raise TypeError(f"message must be of type {message_type!r}, not {type(message)!r}")
            return to_wire(message)
        return super().encode(message, message_type)

    def decode(self, data: bytes, message_type: Any) -> Any:
        if issubclass(message_type, betterproto2.Message):
            return from_wire(message_type, data)
        return super().decode(data, message_type)


class LimitedProtoCodec(UpbCodec):
    """The server's codec: rejects requests over ``max_message_bytes``
    (RESOURCE_EXHAUSTED) and malformed ones (INVALID_ARGUMENT) instead of failing inside a
    handler with an opaque UNKNOWN."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes

    def decode(self, data: bytes, message_type: Any) -> Any:
        if len(data) > self.max_message_bytes:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request of {len(data)} bytes exceeds the limit of {self.max_message_bytes}",
            )
        try:
            return super().decode(data, message_type)
        except Exception as exc:
            # The decoder's own message may quote the offending bytes: keep it out.
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"request is not a valid {message_type.__name__} message",
            ) from exc
