"""The reference: a minimal ``piinguin.v1`` server on the official gRPC stack.

grpcio's ``grpc.aio`` serving protobuf messages that grpcio-tools generates from
``protos/piinguin/v1/piinguin.proto`` at bench time (``generate``), keeping records in a
dict, with no authentication, no audit, no validation and no logging: the floor that
Piinguin's figures are ratios against. Run in its own process::

    python -m bench.reference_server --port P --generated DIR
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

PROTO = Path(__file__).resolve().parent.parent / "protos" / "piinguin" / "v1" / "piinguin.proto"
NOT_FOUND = 5


def generate(out_dir: Path) -> Path:
    """Write ``piinguin/v1/piinguin_pb2{,_grpc}.py`` under ``out_dir``; returns ``out_dir``.

    The generated package shadows the real ``piinguin`` in the reference's process only
    (``out_dir`` goes first on its ``sys.path``), so it gets ``__init__.py`` files.
    """
    package = out_dir / "piinguin" / "v1"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROTO, package / PROTO.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{out_dir}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(package / PROTO.name),
        ],
        check=True,
    )
    for folder in (package.parent, package):
        (folder / "__init__.py").touch()
    return out_dir


def _servicer(pb: Any, pb_grpc: Any, timestamp: Any) -> Any:
    ok = pb.ItemStatus()

    class Reference(pb_grpc.PiinguinServicer):  # type: ignore[misc]
        def __init__(self) -> None:
            self.records: dict[str, Any] = {}

        def _put(self, record: Any, now: Any) -> None:
            stored = pb.PiiRecord()
            stored.CopyFrom(record)
            previous = self.records.get(record.modified_value)
            stored.created_at.CopyFrom(previous.created_at if previous is not None else now)
            stored.updated_at.CopyFrom(now)
            self.records[record.modified_value] = stored

        def _read(self, key: str) -> Any:
            record = self.records.get(key)
            if record is None:
                return pb.ReadResult(status=pb.ItemStatus(code=NOT_FOUND, message="not found"))
            return pb.ReadResult(status=ok, record=record)

        async def CreatePiiRecord(self, request: Any, context: Any) -> Any:
            self._put(request.record, _now(timestamp))
            return pb.CreatePiiRecordResponse()

        async def ReadPiiRecord(self, request: Any, context: Any) -> Any:
            record = self.records.get(request.modified_value)
            if record is None:
                await context.abort(_grpc().StatusCode.NOT_FOUND, "not found")
            return pb.ReadPiiRecordResponse(record=record)

        async def DeletePiiRecord(self, request: Any, context: Any) -> Any:
            self.records.pop(request.modified_value, None)
            return pb.DeletePiiRecordResponse()

        async def CreatePiiRecords(self, request: Any, context: Any) -> Any:
            now = _now(timestamp)
            for record in request.records:
                self._put(record, now)
            return pb.CreatePiiRecordsResponse(results=[ok] * len(request.records))

        async def ReadPiiRecords(self, request: Any, context: Any) -> Any:
            return pb.ReadPiiRecordsResponse(
                results=[self._read(key) for key in request.modified_values]
            )

        async def DeletePiiRecords(self, request: Any, context: Any) -> Any:
            for key in request.modified_values:
                self.records.pop(key, None)
            return pb.DeletePiiRecordsResponse(results=[ok] * len(request.modified_values))

    return Reference()


def _grpc() -> Any:
    return importlib.import_module("grpc")


def _now(timestamp: Any) -> Any:
    now = timestamp()
    now.GetCurrentTime()
    return now


async def serve(port: int) -> None:
    grpc = _grpc()
    from grpc_health.v1 import health, health_pb2_grpc

    pb = importlib.import_module("piinguin.v1.piinguin_pb2")
    pb_grpc = importlib.import_module("piinguin.v1.piinguin_pb2_grpc")
    timestamp = importlib.import_module("google.protobuf.timestamp_pb2").Timestamp

    server = grpc.aio.server()
    pb_grpc.add_PiinguinServicer_to_server(_servicer(pb, pb_grpc, timestamp), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--generated", type=Path, required=True, help="a generate() folder")
    args = parser.parse_args()
    sys.path.insert(0, str(args.generated))
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
