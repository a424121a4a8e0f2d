"""Helpers to run Piinguin's real commands as subprocesses and wait for them to serve."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from piinguin.cli.healthcheck import check
from piinguin.client import PiinguinError

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    process: asyncio.subprocess.Process
    port: int
    output: list[str] = field(default_factory=list)

    async def stop(self) -> int:
        """SIGTERM the whole process group (``make`` and its child), wait, return the code."""
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), 30)
        self.output.append(rest.decode())
        return await asyncio.wait_for(self.process.wait(), 30)


async def wait_serving(
    port: int, process: asyncio.subprocess.Process, *, limit: float = 60
) -> None:
    """Poll the health service until SERVING; fail fast if the process dies."""
    async with asyncio.timeout(limit):
        while process.returncode is None:
            try:
                if await check(f"127.0.0.1:{port}", timeout=1) == "SERVING":
                    return
            except PiinguinError:  # not listening yet, or no answer in time
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"process exited with {process.returncode} before serving")


@asynccontextmanager
async def running(
    argv: Sequence[str], port: int, *, env: Mapping[str, str] | None = None
) -> AsyncIterator[Running]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    run = Running(process, port)
    try:
        await wait_serving(port, process)
        yield run
    finally:
        if process.returncode is None:
            await run.stop()
