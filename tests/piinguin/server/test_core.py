"""``PiinguinServer`` as an async context manager: it binds its own socket, and leaving drains."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import Callable

import pytest

from piinguin.access.auth import Authenticator
from piinguin.cli.healthcheck import check
from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.server import PiinguinServer
from storage import MemoryStorage
from storage.memory import MemoryAuditStore

pytestmark = pytest.mark.socket


def vault(*, port: int = 0, reuse_port: bool = False) -> PiinguinServer:
    return PiinguinServer(
        MemoryStorage(),
        auth=Authenticator.insecure(),
        audit=MemoryAuditStore(),
        max_bulk_items=10,
        max_message_bytes=1 << 20,
        host="127.0.0.1",
        port=port,
        reuse_port=reuse_port,
        grace_period=1,
    )


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_it_listens_on_the_port_it_bound_and_closes_it_on_leaving() -> None:
    server = vault()
    with pytest.raises(RuntimeError, match="not listening"):
        _ = server.port

    async with server:
        port = server.port
        assert port > 0  # the kernel's pick for port 0
        assert await check(f"127.0.0.1:{port}", timeout=2) == "NOT_SERVING"
        await server.wait_ready()
        async with PiinguinClient(f"127.0.0.1:{port}") as client:
            await client.create_record(PiiRecord(modified_value="k", original_value="v"))
            record = await client.read_record("k", basis=LawfulBasis.CONSENT, purpose="p")
        assert record.original_value == "v"

    assert await refused(port)


async def test_a_port_in_use_fails_on_entering_and_leaves_nothing_bound() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use") as failure:
            async with vault(port=port):
                pass
        assert failure.value.errno == errno.EADDRINUSE
    # Had the failed server kept a socket on the port, this bind would fail too.
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


async def test_reuse_port_lets_servers_share_one_port_as_workers_do() -> None:
    async with vault(reuse_port=True) as first, vault(port=first.port, reuse_port=True) as second:
        assert second.port == first.port
        await first.wait_ready()
        await second.wait_ready()
        assert await check(f"127.0.0.1:{first.port}", timeout=2) == "SERVING"


async def test_a_drain_under_way_is_waited_for_not_repeated(
    log_output: Callable[[], str],
) -> None:
    async with vault() as server:
        await server.wait_ready()
        first = asyncio.create_task(server.drain())
        await asyncio.sleep(0)  # the first drain begins
        await server.drain(grace_period=30)  # waits for the first; its own period is moot
        await first
    events = [json.loads(line)["event"] for line in log_output().splitlines()]
    assert events.count("draining") == 1
    assert events.count("stopped") == 1
