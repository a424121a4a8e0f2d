"""The generated converters show their source; bytes that are not a valid request get
INVALID_ARGUMENT, never an opaque UNKNOWN."""

from __future__ import annotations

import asyncio
import inspect
import linecache
import traceback

import grpc
import pytest

from piinguin import wire
from piinguin.server import PiinguinServer
from piinguin.services.legacy_protocol import PiiRecord as LegacyRecord
from piinguin.v1 import PiiRecord, ReadPiiRecordsResponse


def test_a_traceback_through_a_generated_writer_shows_its_source_line() -> None:
    write = wire.writer(PiiRecord)
    with pytest.raises(AttributeError) as caught:
        write(object(), None)

    linecache.checkcache()  # what tracebacks do first: the entry must survive it
    text = "".join(traceback.format_exception(caught.value))
    assert (
        'File "<piinguin.wire write piinguin.v1.PiiRecord>", line 3, in write_PiiRecord\n'
        "    v = m.modified_value\n"
    ) in text


def test_generated_functions_have_names_and_source() -> None:
    read = wire.reader(ReadPiiRecordsResponse)
    assert (read.__name__, read.__qualname__, read.__module__) == (
        "read_ReadPiiRecordsResponse",
        "read_ReadPiiRecordsResponse",
        "piinguin.wire",
    )
    assert inspect.getsource(read) == (
        "def read_ReadPiiRecordsResponse(u):\n    return cls([read_0(v) for v in u.results])\n"
    )


def test_two_protocols_records_of_one_name_keep_their_own_source() -> None:
    ours, legacy = inspect.getsource(wire.writer(PiiRecord)), wire.writer(LegacyRecord)
    assert "u.modified_value = v" in ours
    assert "u.modifiedValue = v" in inspect.getsource(legacy)


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
@pytest.mark.socket
async def test_undecodable_request_is_invalid_argument(
    server: PiinguinServer, payload: bytes
) -> None:
    assert server.port is not None

    code, details = await asyncio.to_thread(
        raw_call, server.port, "/piinguin.v1.Piinguin/ReadPiiRecord", payload
    )

    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert details == "request is not a valid ReadPiiRecordRequest message"


@pytest.mark.socket
async def test_unknown_method_is_unimplemented(server: PiinguinServer) -> None:
    assert server.port is not None

    code, _ = await asyncio.to_thread(raw_call, server.port, "/piinguin.v1.Piinguin/Nope", b"")

    assert code is grpc.StatusCode.UNIMPLEMENTED
