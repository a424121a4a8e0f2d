"""``--workers N``: N server processes sharing one port through SO_REUSEPORT.

Each worker is a whole server with its own event loop; the kernel spreads new connections
across them. A single HTTP/2 connection stays on the worker that accepted it, so one
long-lived client (one channel) is served by one worker: spread load over several
connections to use every core.

The supervisor forwards SIGTERM/SIGINT (every worker drains, as a single server does) and
SIGHUP (every worker reloads its policy). If a worker dies on its own, the others are
stopped and the supervisor exits non-zero: an orchestrator restarts the whole unit, rather
than this process hiding a crash loop.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import wait
from types import FrameType
from typing import cast

import structlog

from piinguin.server.config import ServerConfig
from piinguin.server.core import bind_socket

log = structlog.get_logger("piinguin.server.workers")


def supervise(config: ServerConfig, target: Callable[[ServerConfig, int], None]) -> int:
    """Run ``target(config, index)`` in ``config.workers`` processes; return an exit code."""
    # Bound but never listening, and kept open until the workers end: port 0 becomes one
    # real port that every worker binds too (SO_REUSEPORT).
    holder = bind_socket(config.host, config.port, reuse_port=True)
    port = holder.getsockname()[1]
    worker_config = dataclasses.replace(config, port=port)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=target, args=(worker_config, i), name=f"piinguin-worker-{i}")
        for i in range(config.workers)
    ]
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    previous = {
        s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    try:
        for process in processes:
            process.start()
        log.info("workers_started", workers=config.workers, port=port)
        running = {p.sentinel: p for p in processes}
        failed = False
        while running:
            for sentinel in wait(list(running)):
                process = running.pop(cast(int, sentinel))
                if process.exitcode != 0 and not stopping:
                    log.error("worker_died", worker=process.name, exitcode=process.exitcode)
                    failed = True
                    forward(signal.SIGTERM, None)
        log.info("workers_stopped")
        return 1 if failed else 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        holder.close()
