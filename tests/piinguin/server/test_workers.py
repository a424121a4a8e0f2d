"""``--workers N``: processes sharing one port, spreading connections, draining together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from grpclib.client import Channel, Stream
from grpclib.const import Cardinality

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord, RecordNotFound
from piinguin.codec import UpbCodec
from piinguin.v1 import ReadPiiRecordRequest, ReadPiiRecordResponse
from tests.conftest import scrape

from .conftest import BIN, REPO, wait_serving

pytestmark = pytest.mark.socket


async def start_workers(
    count: int, *flags: str
) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "piinguin-server"),
        *("--port", "0", "--workers", str(count), "--insecure-no-auth", *flags),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "".join(lines)
            lines.append(line)
            if '"workers_started"' in line:
                port = int(json.loads(line)["port"])
            if sum('"event":"serving"' in seen for seen in lines) == count:
                break
    await wait_serving(port, process)
    return process, port, lines


async def test_two_workers_share_the_port_serve_connections_and_drain_together() -> None:
    process, port, _lines = await start_workers(2)
    try:
        for _ in range(12):  # each client is one connection; the kernel spreads them
            async with PiinguinClient(f"127.0.0.1:{port}") as client:
                await client.create_record(PiiRecord(modified_value="k", original_value="v"))
    finally:
        code, events = await stop(process)

    calls = [e for e in events if e["event"] == "call"]
    assert len(calls) == 12
    assert {c["worker"] for c in calls} == {0, 1}
    assert sorted(e["worker"] for e in events if e["event"] == "stopped") == [0, 1]
    assert events[-1]["event"] == "workers_stopped"
    assert code == 0


async def stop(process: asyncio.subprocess.Process) -> tuple[int, list[dict[str, Any]]]:
    """SIGTERM the supervisor; its exit code and the log lines it and its workers wrote."""
    os.killpg(process.pid, signal.SIGTERM)
    assert process.stdout is not None
    rest = await asyncio.wait_for(process.stdout.read(), 30)
    code = await asyncio.wait_for(process.wait(), 30)
    return code, [json.loads(line) for line in rest.decode().splitlines()]


async def test_one_scrape_of_the_supervisor_sums_every_worker_and_the_folder_goes() -> None:
    process, port, lines = await start_workers(2, "--metrics-port", "0")
    [listening] = [json.loads(line) for line in lines if '"metrics_listening"' in line]
    folder = Path(listening["workers_dir"])
    try:
        for _ in range(12):  # each client is one connection; the kernel spreads them
            async with PiinguinClient(f"127.0.0.1:{port}") as client:
                await client.create_record(PiiRecord(modified_value="k", original_value="v"))
                with pytest.raises(RecordNotFound):
                    await client.read_record("nope", basis=LawfulBasis.CONSENT, purpose="p")
        seen = await scrape(listening["port"])
        held = await calls_in_flight_seen(port, listening["port"], 4)
    finally:
        code, events = await stop(process)

    calls = [e for e in events if e["event"] == "call"]
    assert {c["worker"] for c in calls} == {0, 1}  # both workers took calls...
    create = "/piinguin.v1.Piinguin/CreatePiiRecord"
    read = "/piinguin.v1.Piinguin/ReadPiiRecord"
    # ...and the one scrape counted all of them.
    assert seen.value("piinguin_calls_total", method=create, code="OK") == 12
    assert seen.value("piinguin_calls_total", method=read, code="NOT_FOUND") == 12
    assert seen.value("piinguin_call_duration_seconds_count", method=read) == 12
    assert seen.value("piinguin_calls_in_flight") == 0
    assert seen.value("piinguin_storage_ready") == 1  # every worker is serving
    assert held == 4
    assert '"v"' not in seen.text
    assert code == 0
    assert not await asyncio.to_thread(folder.exists)


async def calls_in_flight_seen(port: int, metrics_port: int, count: int) -> float | None:
    """Hold ``count`` calls in flight, on a connection each, until a scrape counts them
    all (or 10 s pass); the last count seen. A call whose request headers arrived and its
    message not yet is in flight: its handler waits for the message."""
    read = "/piinguin.v1.Piinguin/ReadPiiRecord"
    channels = [Channel("127.0.0.1", port, codec=UpbCodec()) for _ in range(count)]
    seen: float | None = None
    async with contextlib.AsyncExitStack() as stack:
        for channel in channels:
            stack.callback(channel.close)
            stream: Stream[
                ReadPiiRecordRequest, ReadPiiRecordResponse
            ] = await stack.enter_async_context(
                channel.request(
                    read, Cardinality.UNARY_UNARY, ReadPiiRecordRequest, ReadPiiRecordResponse
                )
            )
            await stream.send_request()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while seen != count:
                    seen = (await scrape(metrics_port)).value("piinguin_calls_in_flight")
        for channel in channels:
            channel.close()
    return seen


async def test_a_worker_that_dies_stops_the_others_and_fails_the_unit() -> None:
    process, _port, _lines = await start_workers(2)
    assert process.stdout is not None

    children_file = f"/proc/{process.pid}/task/{process.pid}/children"
    children = [int(pid) for pid in (await asyncio.to_thread(_read, children_file)).split()]
    assert children, "no worker processes found"
    os.kill(max(children), signal.SIGKILL)

    rest = await asyncio.wait_for(process.stdout.read(), 30)
    code = await asyncio.wait_for(process.wait(), 30)
    assert code == 1
    assert '"worker_died"' in rest.decode()


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()
