"""Load generators, run as separate processes on their own cores so they are not what
limits the figures: h2load (nghttp2) sending pre-encoded gRPC frames, or, when it is
missing, several grpcio client processes (``bench.load_client``) doing the same.

Both check the answers: h2load counts any HTTP 200 as a success, gRPC errors included, so
the response bytes per call are compared with what one probed call returned. A server
answering errors fails its row instead of looking fast.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.calls import TOKEN, Call
from bench.procs import Processes, python

_FINISHED = re.compile(r"finished in [\d.]+[mu]?s, ([\d.]+) req/s")
_REQUESTS = re.compile(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) fail")
_DATA = re.compile(r"traffic: .*, [\d.]+[KMG]?B \((\d+)\) data")


@dataclass(frozen=True, slots=True)
class Throughput:
    calls_per_s: float
    calls: int
    failed: int
    bytes_per_call: float

    def check(self, expected_bytes: int, what: str) -> float:
        """``calls_per_s``, once the calls are known to have been answered in full.

        An error is answered with trailers and no message, so answers averaging less than
        nine tenths of a good one mean errors. (h2load's byte count also takes in calls
        cut off at the end or in its warm-up, so only the lower bound is reliable.)
        """
        if self.calls == 0 or self.failed:
            raise RuntimeError(f"{what}: {self.calls} calls succeeded, {self.failed} failed")
        if self.bytes_per_call < 0.9 * expected_bytes:
            raise RuntimeError(
                f"{what}: answers of {self.bytes_per_call:.0f} bytes a call where a good "
                f"answer has {expected_bytes}: the server is answering errors"
            )
        return self.calls_per_s


@dataclass(frozen=True, slots=True)
class Concurrency:
    connections: int
    streams: int  # calls in flight per connection


class Load(Protocol):
    description: str

    def measure(self, port: int, call: Call, seconds: float, how: Concurrency) -> Throughput: ...


class H2Load:
    def __init__(self, executable: str, procs: Processes, cores: tuple[int, ...], workdir: Path):
        self._executable = executable
        self._procs = procs
        self._cores = cores
        self._workdir = workdir
        version = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, check=False
        )
        self.description = f"{version.stdout.strip()}, one thread"

    def measure(self, port: int, call: Call, seconds: float, how: Concurrency) -> Throughput:
        warm_up = min(1.0, seconds / 4)
        argv = [
            self._executable,
            *("-c", str(how.connections), "-m", str(how.streams), "-t", "1"),
            *("-D", f"{seconds * 1000:.0f}ms", "--warm-up-time", f"{warm_up * 1000:.0f}ms"),
            *("-d", str(_body_file(self._workdir, call))),
            *("-H", "content-type: application/grpc", "-H", "te: trailers"),
            *("-H", f"authorization: Bearer {TOKEN}"),
            f"http://127.0.0.1:{port}{call.path}",
        ]
        proc = self._procs.start("h2load", argv, cores=self._cores, stdout=subprocess.PIPE)
        try:
            out, _ = proc.communicate(timeout=seconds + warm_up + 60)
        finally:
            self._procs.stop(proc)
        return parse_h2load(out)


def parse_h2load(out: str) -> Throughput:
    finished, requests, data = _FINISHED.search(out), _REQUESTS.search(out), _DATA.search(out)
    if not (finished and requests and data):
        raise RuntimeError(f"h2load's output was not understood:\n{out[-800:]}")
    succeeded, failed = int(requests[2]), int(requests[3])
    return Throughput(
        calls_per_s=float(finished[1]),
        calls=succeeded,
        failed=failed,
        bytes_per_call=int(data[1]) / succeeded if succeeded else 0.0,
    )


class Clients:
    """``processes`` grpcio clients sharing ``how.connections`` (at least one each), each
    connection with ``how.streams`` calls in flight."""

    def __init__(self, procs: Processes, cores: tuple[int, ...], workdir: Path, *, why: str):
        self._procs = procs
        self._cores = cores
        self._workdir = workdir
        self.processes = max(2, len(cores))
        self.description = f"fallback: {self.processes} grpcio client processes ({why})"

    def measure(self, port: int, call: Call, seconds: float, how: Concurrency) -> Throughput:
        connections = max(1, how.connections // self.processes)
        argv = python(
            "load_client",
            *("--port", str(port), "--path", call.path, "--token", TOKEN),
            *("--body", str(_body_file(self._workdir, call))),
            *("--connections", str(connections), "--concurrency", str(how.streams)),
            *("--seconds", f"{seconds:g}"),
        )
        clients = [
            self._procs.start(
                f"client{i}", argv, cores=self._cores, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            for i in range(self.processes)
        ]
        try:
            for client in clients:
                if _line(client) != "ready":
                    raise RuntimeError(f"a load client failed: {self._procs.stderr_tail(client)}")
            for client in clients:
                assert client.stdin is not None
                client.stdin.write("go\n")
                client.stdin.flush()
            reports = [json.loads(_line(client)) for client in clients]
        finally:
            for client in clients:
                self._procs.stop(client)
        calls = sum(r["calls"] for r in reports)
        return Throughput(
            calls_per_s=sum(r["calls"] / r["seconds"] for r in reports),
            calls=calls,
            failed=sum(r["failed"] for r in reports),
            bytes_per_call=sum(r["bytes"] for r in reports) / calls if calls else 0.0,
        )


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _body_file(workdir: Path, call: Call) -> Path:
    path = workdir / f"{call.method}-{call.items}.bin"
    if not path.exists():
        path.write_bytes(call.body)
    return path


def pick(kind: str, procs: Processes, cores: tuple[int, ...], workdir: Path) -> Load:
    """``h2load``, ``clients``, or ``auto``: h2load when it is installed."""
    executable = shutil.which("h2load")
    if kind == "clients":
        return Clients(procs, cores, workdir, why="asked for with --load clients")
    if executable is None:
        if kind == "h2load":
            raise RuntimeError(
                "--load h2load: h2load is not installed (apt-get install nghttp2-client)"
            )
        return Clients(
            procs, cores, workdir, why="h2load not found; as root, `make bench` installs it"
        )
    return H2Load(executable, procs, cores, workdir)
