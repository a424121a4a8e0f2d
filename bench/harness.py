"""What every row shares: the options, the processes, the cores, the load, the policy
file, and how each kind of server is started (and stopped when the row is done)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.audit_capacity import Mix
from bench.calls import TOKEN, Call
from bench.load import Concurrency, Load
from bench.procs import Cores, Processes, free_port, python, venv_script
from piinguin.access.policy import token_digest

UNARY = Concurrency(connections=4, streams=16)
#: As many calls in flight, on more connections: SO_REUSEPORT spreads connections, not
#: calls, over a server's workers, and a few connections can land unevenly.
SPREAD = Concurrency(connections=16, streams=4)
BULK = Concurrency(connections=2, streams=4)


@dataclass(frozen=True, slots=True)
class Sizes:
    bulk_items: int = 500
    handler_records: int = 10_000
    dynamodb_pairs: int = 1_000
    parse_events: int = 2_000
    audit_mix: Mix = field(default_factory=Mix)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            bulk_items=20, handler_records=200, dynamodb_pairs=100, parse_events=100,
            audit_mix=Mix.quick(),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Bench:
    procs: Processes
    workdir: Path
    cores: Cores
    load: Load
    rounds: int
    seconds: float
    sizes: Sizes
    reference_code: Path  # bench.reference_server.generate's folder
    pids: dict[int, int] = field(default_factory=dict)  # port -> pid of the server on it

    @property
    def policy(self) -> Path:
        """One principal, ``bench``, that may read (on consent) and write."""
        path = self.workdir / "policy.toml"
        if not path.exists():
            path.write_text(
                "[principals.bench]\n"
                f'token_sha256 = ["{token_digest(TOKEN)}"]\n'
                'operations = ["read", "write"]\n'
                'lawful_bases = ["consent"]\n'
            )
        return path

    @contextlib.contextmanager
    def server(
        self, name: str, argv: Sequence[str], cores: Sequence[int] | None = None
    ) -> Iterator[int]:
        """Start a server that takes ``--port``, wait until it is SERVING, yield its port,
        and stop it when the row is done."""
        port = free_port()
        proc = self.procs.start(
            name, [*argv, "--port", str(port)], cores=cores or self.cores.server
        )
        self.pids[port] = proc.pid
        try:
            self.procs.wait_serving(proc, port)
            yield port
        finally:
            self.procs.stop(proc)
            del self.pids[port]

    def piinguin(
        self, *flags: str, cores: Sequence[int] | None = None
    ) -> contextlib.AbstractContextManager[int]:
        """``piinguin-server`` itself: in-memory storage, the bench policy, JSON logs."""
        argv = [venv_script("piinguin-server"), "--policy", str(self.policy), *flags]
        return self.server("piinguin", argv, cores)

    def reference(self) -> contextlib.AbstractContextManager[int]:
        argv = python("reference_server", "--generated", str(self.reference_code))
        return self.server("reference", argv)

    def floor(self) -> contextlib.AbstractContextManager[int]:
        """``bench.grpclib_floor_server``: grpclib and Piinguin's codec, nothing else."""
        return self.server("floor", python("grpclib_floor_server"))

    def vault(self, name: str, *flags: str) -> contextlib.AbstractContextManager[int]:
        """``bench.vault_server``: Piinguin built in-process, see there."""
        argv = python("vault_server", "--policy", str(self.policy), *flags)
        return self.server(name, argv)

    def server_cpu_s(self, port: int) -> float:
        """CPU seconds (user and system, every thread) the server on ``port`` has used."""
        stat = Path(f"/proc/{self.pids[port]}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def calls_per_s(self, port: int, call: Call, how: Concurrency, expected_bytes: int) -> float:
        measured = self.load.measure(port, call, self.seconds, how)
        return measured.check(expected_bytes, f"{call.method} on port {port}")
