"""``piinguin-server``: the entry point. Reads config, sets up logging, owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence

import structlog

from piinguin.config import ServerConfig
from piinguin.logs import configure_logging
from piinguin.options import OptionError
from piinguin.server import PiinguinServer
from storage import MemoryStorage, Storage

log = structlog.get_logger("piinguin.main")


@contextlib.asynccontextmanager
async def open_storage(config: ServerConfig) -> AsyncIterator[Storage]:
    if config.storage == "memory":
        log.warning("memory_storage", detail="records live in this process and are lost on exit")
        yield MemoryStorage()
        return
    raise OptionError("--storage", f"the {config.storage} backend is not available yet")


async def serve(
    config: ServerConfig,
    *,
    stop: asyncio.Event | None = None,
    listening: asyncio.Future[int] | None = None,
) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives, then drain.

    ``listening`` learns the port once the server listens (tests start on port 0).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_storage(config) as storage:
            server = PiinguinServer(
                storage,
                max_bulk_items=config.max_bulk_items,
                max_message_bytes=config.max_message_bytes,
            )
            port = await server.start(config.host, config.port)
            log.info("listening", host=config.host, port=port, storage=config.storage)
            if listening is not None:
                listening.set_result(port)
            ready = asyncio.create_task(server.wait_ready())
            await stop.wait()
            ready.cancel()
            await server.drain(config.grace_period)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _install_uvloop() -> str:
    try:
        import uvloop  # noqa: PLC0415  (optional: absent on some platforms)
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


def run(argv: Sequence[str] | None = None) -> None:
    try:
        config = ServerConfig.from_args(sys.argv[1:] if argv is None else argv, os.environ)
    except OptionError as exc:
        sys.exit(f"piinguin-server: error: {exc}")
    configure_logging(config.log_level, config.log_format)
    loop_kind = _install_uvloop()
    log.info("starting", event_loop=loop_kind)
    asyncio.run(serve(config))


if __name__ == "__main__":
    run()
