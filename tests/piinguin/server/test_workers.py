"""``--workers N``: processes sharing one port, spreading connections, draining together."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from piinguin.client import PiinguinClient, PiiRecord

from .conftest import BIN, REPO, wait_serving

pytestmark = pytest.mark.socket


async def start_workers(count: int) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "piinguin-server"),
        *("--port", "0", "--workers", str(count), "--insecure-no-auth"),
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
    process, port, lines = await start_workers(2)
    try:
        for _ in range(12):  # each client is one connection; the kernel spreads them
            async with PiinguinClient(f"127.0.0.1:{port}") as client:
                await client.create_record(PiiRecord(modified_value="k", original_value="v"))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.stdout is not None
        rest = await asyncio.wait_for(process.stdout.read(), 30)
        code = await asyncio.wait_for(process.wait(), 30)

    text = "".join(lines) + rest.decode()
    events = [json.loads(line) for line in text.splitlines()]
    calls = [e for e in events if e["event"] == "call"]
    assert len(calls) == 12
    assert {c["worker"] for c in calls} == {0, 1}
    assert sorted(e["worker"] for e in events if e["event"] == "stopped") == [0, 1]
    assert events[-1]["event"] == "workers_stopped"
    assert code == 0


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
