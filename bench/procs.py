"""The benchmark's own processes: servers and load, each in its own process group, pinned
to its own cores, and always stopped, whatever fails.

``Processes`` is a context manager: everything started through it is sent SIGTERM (then
SIGKILL, to the whole group) on exit, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the harness dies, even of SIGKILL."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class Cores:
    """Which cores the server side and the load side get."""

    server: tuple[int, ...]
    load: tuple[int, ...]

    @classmethod
    def split(cls, server_count: int = 1) -> Cores:
        """The first ``server_count`` cores for the server, the rest for the load; when
        there are not enough, both sides share every core (and ``shared`` says so)."""
        cores = tuple(sorted(os.sched_getaffinity(0)))
        if len(cores) > server_count:
            return cls(cores[:server_count], cores[server_count:])
        return cls(cores, cores)

    @property
    def shared(self) -> bool:
        return bool(set(self.server) & set(self.load))

    def describe(self) -> str:
        text = f"server on core {_cores(self.server)}, load on core {_cores(self.load)}"
        return text + (" (shared: not enough cores)" if self.shared else "")


def _cores(cores: Sequence[int]) -> str:
    return ",".join(map(str, cores))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Starts and stops the run's processes; each one's stderr goes to ``<workdir>/<name>.err``."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._running: list[subprocess.Popen[Any]] = []
        self._names: dict[int, str] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self._running:
            self.stop(self._running[-1])

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cores: Sequence[int],
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = subprocess.DEVNULL,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """Start ``argv`` in a new process group, pinned to ``cores``."""
        stderr_path = self._workdir / f"{name}.err"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(
                list(argv),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                process_group=0,
                preexec_fn=_die_with_parent,  # noqa: PLW1509  (the harness starts no threads)
                text=True,
            )
        self._running.append(proc)
        self._names[proc.pid] = name
        # The child still runs Python's start-up: pinning now pins every thread it makes.
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(proc.pid, cores)
        return proc

    def stop(self, proc: subprocess.Popen[Any], timeout: float = 15.0) -> int:
        """SIGTERM the process group, wait, SIGKILL what is left; the exit code."""
        if proc in self._running:
            self._running.remove(proc)
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        _signal_group(proc, signal.SIGKILL)  # helpers it started, if any outlived it
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def stderr_tail(self, proc: subprocess.Popen[Any], lines: int = 5) -> str:
        path = self._workdir / f"{self._names.get(proc.pid)}.err"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_serving(self, proc: subprocess.Popen[Any], port: int, timeout: float = 30.0) -> None:
        """Poll gRPC health (service ``""``) until SERVING; raise, with the end of the
        process's stderr, if it dies or ``timeout`` passes."""
        try:
            name = self._names.get(proc.pid, "server")
            asyncio.run(_wait_serving(proc, name, port, time.monotonic() + timeout))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.stderr_tail(proc)}") from None


def _signal_group(proc: subprocess.Popen[Any], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


async def _wait_serving(proc: subprocess.Popen[Any], name: str, port: int, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before serving")
        if await _serving(port):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not SERVING on port {port} in time")
        await asyncio.sleep(0.05)


async def _serving(port: int) -> bool:
    channel = Channel("127.0.0.1", port)
    try:
        reply = await HealthStub(channel).Check(HealthCheckRequest(service=""), timeout=1.0)
    except Exception:  # noqa: BLE001  (any gRPC or h2 error while starting: not ready yet)
        return False
    finally:
        channel.close()
    return bool(reply.status == HealthCheckResponse.SERVING)


def python(module: str, *args: str) -> list[str]:
    """``python -m bench.<module> ...`` with this interpreter."""
    return [sys.executable, "-m", f"bench.{module}", *args]


def venv_script(name: str) -> str:
    return str(BIN / name)
