"""The server on ``--storage dynamodb`` against moto, in this process.

``dynamodb_server`` runs the entry point's ``serve()`` with a config the test gives,
fresh table names, a key file, and the AWS chain pointed at fake credentials, and stops it
afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from piinguin.cli.healthcheck import check
from piinguin.server.config import ServerConfig
from storage.crypto import create_key_file
from tests.conftest import running_entry_point
from tests.dynamodb_fixtures import REGION, fresh_table_name


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
def key_file(tmp_path: Path) -> Path:
    """A key file, as ``piinguin-admin keyring create`` makes one."""
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=16)
    return path


@pytest.fixture
def dynamodb_server(moto_endpoint: str, aws_chain: None, key_file: Path) -> ServerStarter:
    """Starts the server on fresh tables, encrypting with ``key_file`` unless the test
    gives ``keyring`` or ``insecure_no_encryption``."""

    @contextlib.asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[Served]:
        defaults: dict[str, Any] = {
            "table": fresh_table_name(),
            "audit_table": fresh_table_name(),
            "key_table": fresh_table_name(),
            "dynamodb_endpoint": moto_endpoint,
            "region": REGION,
            "grace_period": 5,
        }
        if not options.get("insecure_no_encryption"):
            defaults["keyring"] = f"local:{key_file}"
        config = ServerConfig(
            port=0, storage="dynamodb", insecure_no_auth=True, **(defaults | options)
        )
        async with running_entry_point(config) as running:
            yield Served(config, running.port)

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
