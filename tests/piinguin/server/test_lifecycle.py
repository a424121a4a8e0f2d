"""Health, reflection and graceful drain, seen by the official grpcio clients over a socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.server import PiinguinServer
from piinguin.server.config import ServerConfig
from piinguin.v1 import CreatePiiRecordRequest, PiinguinStub, PiiRecord
from tests.conftest import ServerFactory, running_entry_point
from tests.doubles import SlowStorage

pytestmark = pytest.mark.socket


PROBE = Path(__file__).with_name("grpcio_probe.py")


async def probe(*args: object) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROBE), *map(str, args), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip()


async def test_health_is_serving_for_grpcio_clients(server: PiinguinServer) -> None:
    for service in ("", "piinguin.v1.Piinguin"):
        assert await probe("health", server.port, service) == "SERVING"


async def test_reflection_lists_and_describes_the_service(server: PiinguinServer) -> None:

    found = json.loads(await probe("reflect", server.port))
    services, methods = found["services"], found["methods"]

    assert "piinguin.v1.Piinguin" in services
    assert "grpc.health.v1.Health" in services
    assert methods == [
        "CreatePiiRecord",
        "ReadPiiRecord",
        "DeletePiiRecord",
        "CreatePiiRecords",
        "ReadPiiRecords",
        "DeletePiiRecords",
        "ListAuditEvents",
        "FindSubject",
        "ExportSubject",
        "EraseSubject",
        "RestrictSubject",
        "UnrestrictSubject",
        "GetReceiptKeys",
    ]


async def test_drain_lets_the_call_in_flight_finish_and_refuses_new_ones(
    start_server: ServerFactory,
) -> None:
    storage = SlowStorage()
    async with start_server(storage) as server:
        channel = Channel("127.0.0.1", server.port)
        stub = PiinguinStub(channel)
        in_flight = asyncio.create_task(
            stub.create_pii_record(
                CreatePiiRecordRequest(record=PiiRecord(modified_value="k", original_value="v"))
            )
        )
        await storage.entered.wait()

        drained = asyncio.create_task(server.drain(grace_period=30))
        await asyncio.sleep(0)  # let the drain task run up to its first wait
        assert server.tracker.draining

        assert await probe("health", server.port, "piinguin.v1.Piinguin") == "NOT_SERVING"
        with pytest.raises(GRPCError) as refused:
            await stub.create_pii_record(
                CreatePiiRecordRequest(record=PiiRecord(modified_value="k2", original_value="v"))
            )
        assert refused.value.status is Status.UNAVAILABLE
        assert not drained.done()

        storage.release.set()
        await in_flight  # completes with OK: no exception
        await drained
        channel.close()
        assert len(storage) == 1


async def test_grace_period_bounds_the_drain(start_server: ServerFactory) -> None:
    storage = SlowStorage()
    async with start_server(storage) as server:
        channel = Channel("127.0.0.1", server.port)
        call = asyncio.create_task(
            PiinguinStub(channel).create_pii_record(
                CreatePiiRecordRequest(record=PiiRecord(modified_value="k", original_value="v"))
            )
        )
        await storage.entered.wait()

        await server.drain(grace_period=0.05)

        with pytest.raises(GRPCError) as info:
            await call
        channel.close()
        assert info.value.status is Status.UNAVAILABLE
        assert info.value.message == "server shut down before the call finished"
        assert len(storage) == 0


async def test_sigterm_drains_the_entry_point_with_a_call_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = SlowStorage()
    monkeypatch.setattr("piinguin.server.main.MemoryStorage", lambda **_: storage)
    config = ServerConfig(port=0, grace_period=30, insecure_no_auth=True)
    async with running_entry_point(config) as running:
        channel = Channel("127.0.0.1", running.port)
        call = asyncio.create_task(
            PiinguinStub(channel).create_pii_record(
                CreatePiiRecordRequest(record=PiiRecord(modified_value="k", original_value="v"))
            )
        )
        await storage.entered.wait()

        os.kill(os.getpid(), signal.SIGTERM)
        assert await probe("health", running.port, "piinguin.v1.Piinguin") == "NOT_SERVING"
        storage.release.set()

        await call
        await running.task  # SIGTERM alone ends serve()
    channel.close()
    assert len(storage) == 1
