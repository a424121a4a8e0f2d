"""The server's wire codec: grpclib's protobuf codec with a size limit and clear errors."""

from __future__ import annotations

from typing import Any

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError


class LimitedProtoCodec(ProtoCodec):
    """Rejects requests over ``max_message_bytes`` and answers undecodable ones with
    INVALID_ARGUMENT instead of an opaque UNKNOWN.

    Works for betterproto2 messages and protobuf's alike (health, reflection): both offer
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
            return message_type.FromString(data)
        except Exception as exc:
            # The decoder's own message may quote the offending bytes: keep it out.
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"request is not a valid {message_type.__name__} message",
            ) from exc
