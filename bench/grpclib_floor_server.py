"""The grpclib floor: the least a ``piinguin.v1`` server on Piinguin's stack can do.

grpclib's ``Server`` with the codec Piinguin uses (``LimitedProtoCodec``: upb through
``piinguin.wire``) and its write coalescing (``piinguin.server.coalesce``), the generated
``PiinguinBase`` with trivial handlers over a dict, a health service to poll, and the
event loop and GC settings ``piinguin-server`` runs with.
No authentication, audit, validation, logging, call tracking or reflection: a unary call
here costs grpclib, h2, hpack, hyperframe, asyncio and the codec, and next to nothing else.
Its figure against the grpcio reference is the most Piinguin could reach on this stack.
Run in its own process::

    python -m bench.grpclib_floor_server --port P
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime

import grpclib
from grpclib.const import Status
from grpclib.health.service import Health
from grpclib.server import Server

from piinguin.codec import LimitedProtoCodec
from piinguin.server.coalesce import coalesce_writes
from piinguin.server.main import _install_uvloop, _tune_gc  # as piinguin-server runs
from piinguin.v1 import (
    CreatePiiRecordsRequest,
    CreatePiiRecordsResponse,
    ItemStatus,
    PiinguinBase,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # piinguin-server's default
NOT_FOUND = ItemStatus(code=Status.NOT_FOUND.value, message="not found")


class Floor(PiinguinBase):
    """Records in a dict, server timestamps set on write: what the benchmark's calls need
    (the bulk ones seed and check the records), nothing more."""

    def __init__(self) -> None:
        self.records: dict[str, PiiRecord] = {}

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        record = self.records.get(message.modified_value)
        if record is None:
            raise grpclib.GRPCError(Status.NOT_FOUND, "not found")
        return ReadPiiRecordResponse(record=record)

    async def create_pii_records(
        self, message: CreatePiiRecordsRequest
    ) -> CreatePiiRecordsResponse:
        now = datetime.now(UTC)
        for record in message.records:
            previous = self.records.get(record.modified_value)
            record.created_at = previous.created_at if previous is not None else now
            record.updated_at = now
            self.records[record.modified_value] = record
        return CreatePiiRecordsResponse(results=[ItemStatus() for _ in message.records])

    async def read_pii_records(self, message: ReadPiiRecordsRequest) -> ReadPiiRecordsResponse:
        results = []
        for key in message.modified_values:
            record = self.records.get(key)
            results.append(
                ReadResult(status=NOT_FOUND) if record is None else ReadResult(record=record)
            )
        return ReadPiiRecordsResponse(results=results)


async def serve(port: int) -> None:
    server = Server([Floor(), Health()], codec=LimitedProtoCodec(MAX_MESSAGE_BYTES))
    coalesce_writes(server)
    await server.start("127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grpclib_floor_server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _tune_gc()
    _install_uvloop()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
