"""The server's wire codec: grpclib's protobuf codec with a size limit and strict decoding."""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import message_factory
from google.protobuf.message import Message
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError


@cache
def _strict_parser(message_type: type[Any]) -> Any:
    """protobuf's (upb) class for a betterproto2 message type, or None for protobuf types.

    betterproto2's decoder is lenient: truncated fields, corrupt wire types and bad UTF-8
    can come out as a half-filled message (even ``None`` in a string field). upb rejects
    them, in about a microsecond a record, so requests are checked by it first.
    """
    if issubclass(message_type, Message):
        return None
    return message_factory.GetMessageClass(message_type.DESCRIPTOR)


class LimitedProtoCodec(ProtoCodec):
    """Rejects requests over ``max_message_bytes`` (RESOURCE_EXHAUSTED) and malformed ones
    (INVALID_ARGUMENT) instead of failing inside a handler with an opaque UNKNOWN.

    Serves betterproto2 messages and protobuf's alike (health, reflection): both offer
    ``FromString`` and ``SerializeToString``.
    """

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes

    def decode(self, data: bytes, message_type: Any) -> Any:
        if len(data) > self.max_message_bytes:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request of {len(data)} bytes exceeds the limit of {self.max_message_bytes}",
            )
        try:
            strict = _strict_parser(message_type)
            if strict is not None:
                strict.FromString(data)
            return message_type.FromString(data)
        except Exception as exc:
            # The decoder's own message may quote the offending bytes: keep it out.
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"request is not a valid {message_type.__name__} message",
            ) from exc
