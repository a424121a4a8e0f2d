"""Bytes that are not a valid request get INVALID_ARGUMENT, never an opaque UNKNOWN."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from piinguin.server import PiinguinServer

pytestmark = pytest.mark.socket


def raw_call(port: int, method: str, payload: bytes) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method)
        try:
            call(payload, timeout=5)
        except grpc.RpcError as exc:
            return exc.code(), exc.details()
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize(
    "payload",
    [
        b"\x0a\x02\xff\xfe",  # field 1 (a string) that is not UTF-8
        b"\x0a\x05ab",  # a length that runs past the end
        b"\x0f",  # an end-group tag with no group: corrupt wire type
        b"\xff" * 11,  # a varint that never ends
    ],
)
async def test_undecodable_request_is_invalid_argument(
    server: PiinguinServer, payload: bytes
) -> None:
    assert server.port is not None

    code, details = await asyncio.to_thread(
        raw_call, server.port, "/piinguin.v1.Piinguin/ReadPiiRecord", payload
    )

    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert details == "request is not a valid ReadPiiRecordRequest message"


async def test_unknown_method_is_unimplemented(server: PiinguinServer) -> None:
    assert server.port is not None

    code, _ = await asyncio.to_thread(raw_call, server.port, "/piinguin.v1.Piinguin/Nope", b"")

    assert code is grpc.StatusCode.UNIMPLEMENTED
