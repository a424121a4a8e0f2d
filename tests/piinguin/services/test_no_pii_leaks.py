"""No original value in any log line or error message, whatever happens to the call."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from grpclib.client import Channel
from grpclib.exceptions import GRPCError

from piinguin.v1 import (
    CreatePiiRecordRequest,
    CreatePiiRecordsRequest,
    DeletePiiRecordRequest,
    DeletePiiRecordsRequest,
    LawfulBasis,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
)
from storage import StorageUnavailable
from tests.conftest import ServerFactory
from tests.doubles import FaultyStorage

pytestmark = pytest.mark.socket

ORIGINALS = [f"pii-canary-{i}-jane.doe@example.org" for i in range(6)]


async def test_every_rpc_and_error_path_keeps_originals_out_of_logs_and_errors(
    start_server: ServerFactory, log_output: Callable[[], str]
) -> None:
    storage = FaultyStorage()
    errors: list[str] = []

    async def attempt(call: Awaitable[object]) -> None:
        try:
            await call
        except GRPCError as exc:
            errors.append(f"{exc.status} {exc.message} {exc.details} {exc!r}")

    async with start_server(storage, max_bulk_items=5, max_message_bytes=4096) as server:
        channel = Channel("127.0.0.1", server.port)
        stub = PiinguinStub(channel)
        good = [
            PiiRecord(modified_value=f"k{i}", original_value=v) for i, v in enumerate(ORIGINALS)
        ]
        read: dict[str, Any] = {"lawful_basis": LawfulBasis.CONSENT, "purpose": "ticket 1"}

        await attempt(stub.create_pii_record(CreatePiiRecordRequest(record=good[0])))
        await attempt(stub.create_pii_records(CreatePiiRecordsRequest(records=good[1:5])))
        await attempt(stub.read_pii_record(ReadPiiRecordRequest(modified_value="k0", **read)))
        await attempt(
            stub.read_pii_records(ReadPiiRecordsRequest(modified_values=["k1", "k2", ""], **read))
        )
        # Error paths, each carrying an original somewhere in the request.
        await attempt(  # key empty
            stub.create_pii_record(
                CreatePiiRecordRequest(
                    record=PiiRecord(modified_value="", original_value=ORIGINALS[5])
                )
            )
        )
        await attempt(stub.read_pii_record(ReadPiiRecordRequest(modified_value="absent", **read)))
        await attempt(  # the original as purpose, basis missing
            stub.read_pii_record(ReadPiiRecordRequest(modified_value="k0", purpose=ORIGINALS[2]))
        )
        await attempt(stub.create_pii_records(CreatePiiRecordsRequest(records=good)))  # too many
        await attempt(  # too large
            stub.create_pii_record(
                CreatePiiRecordRequest(
                    record=PiiRecord(modified_value="big", original_value=ORIGINALS[3] * 200)
                )
            )
        )
        await attempt(  # key too long, made of the original
            stub.create_pii_record(
                CreatePiiRecordRequest(
                    record=PiiRecord(modified_value=ORIGINALS[4] * 70, original_value=ORIGINALS[4])
                )
            )
        )
        storage.failing.add("k3")
        await attempt(stub.create_pii_records(CreatePiiRecordsRequest(records=good[2:4])))
        await attempt(stub.read_pii_record(ReadPiiRecordRequest(modified_value="k3", **read)))
        storage.down = StorageUnavailable
        await attempt(stub.create_pii_record(CreatePiiRecordRequest(record=good[0])))
        await attempt(stub.read_pii_record(ReadPiiRecordRequest(modified_value="k0", **read)))
        storage.down = None
        await attempt(stub.delete_pii_record(DeletePiiRecordRequest(modified_value="k0")))
        await attempt(stub.delete_pii_records(DeletePiiRecordsRequest(modified_values=["k1", ""])))
        channel.close()

    logs = log_output()
    lines = [json.loads(line) for line in logs.splitlines()]
    calls = [line for line in lines if line["event"] == "call"]
    assert len(calls) == 16
    assert {"method", "peer", "code", "duration_ms", "items"} <= calls[0].keys()
    assert len(errors) == 9, "\n".join(errors)
    for original in ORIGINALS:
        assert original not in logs
        for error in errors:
            assert original not in error
            # a key made of an original's characters is echoed nowhere either
            assert original[:20] not in error
