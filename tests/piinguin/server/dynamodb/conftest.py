"""The server on ``--storage dynamodb`` against moto, in this process.

``dynamodb_server`` starts ``serve()`` from the entry point with a config the test gives,
fresh table names and the AWS chain pointed at fake credentials, and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from piinguin.cli.healthcheck import check
from piinguin.server.config import ServerConfig
from piinguin.server.main import serve
from tests import dynamodb_fixtures
from tests.dynamodb_fixtures import REGION, fresh_table_name

#: The session's moto server; a fixture is registered by being bound in a conftest.
moto_endpoint = dynamodb_fixtures.moto_endpoint


@dataclasses.dataclass(frozen=True)
class Served:
    config: ServerConfig
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The standard AWS chain, with fake credentials and no files or profiles of this
    machine: what the server reads is what the test sets."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


ServerStarter = Callable[..., contextlib.AbstractAsyncContextManager[Served]]


@pytest.fixture
def dynamodb_server(moto_endpoint: str, aws_chain: None) -> ServerStarter:
    @contextlib.asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[Served]:
        defaults: dict[str, Any] = {
            "table": fresh_table_name(),
            "audit_table": fresh_table_name(),
            "dynamodb_endpoint": moto_endpoint,
            "region": REGION,
            "grace_period": 5,
        }
        config = ServerConfig(
            port=0, storage="dynamodb", insecure_no_auth=True, **(defaults | options)
        )
        stop = asyncio.Event()
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(config, stop=stop, listening=listening))
        try:
            # serve() either listens or fails at start (a bad option): whichever comes first.
            await asyncio.wait([task, listening], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
            yield Served(config, listening.result())
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    return start


async def health(served: Served) -> str:
    return await check(served.target, timeout=2)


async def wait_for_health(served: Served, status: str, *, limit: float = 30) -> None:
    """Poll the health service until it reports ``status``, for at most ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while True:
            if await health(served) == status:
                return
            await asyncio.sleep(0.05)


async def wait_for_log(
    log_output: Callable[[], str], event: str, *, limit: float = 30
) -> dict[str, Any]:
    """Poll the captured logs until a line of ``event`` appears; answer the first one."""
    async with asyncio.timeout(limit):
        while True:
            for line in log_output().splitlines():
                parsed: dict[str, Any] = json.loads(line)
                if parsed["event"] == event:
                    return parsed
            await asyncio.sleep(0.05)
