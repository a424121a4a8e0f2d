"""``relay.handler.handler`` as Lambda's runtime calls it: configured from the environment
on the first call, one relay and one connection for the process, nothing at import."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from piinguin.options import OptionError
from relay import handler as entry
from tests.doubles import LambdaContext
from tests.relay.factory import kinesis_record, lambda_event, pii_line, pojo_item

from .servers import Vault

pytestmark = pytest.mark.socket


@pytest.fixture
async def environ(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[pytest.MonkeyPatch]:
    """No ``PIINGUIN_*`` variable but the test's own; the process's relay closed after."""
    for name in list(os.environ):
        if name.startswith("PIINGUIN_"):
            monkeypatch.delenv(name)
    yield monkeypatch
    await asyncio.to_thread(entry.close)


async def test_one_relay_and_one_connection_serve_every_invocation(
    vault: Vault, environ: pytest.MonkeyPatch, log_output: Callable[[], str]
) -> None:
    environ.setenv("PIINGUIN_TARGET", vault.target)
    environ.setenv("PIINGUIN_BULK_SIZE", "1")
    for n in (1, 2):
        event = lambda_event(
            kinesis_record(pii_line([pojo_item("user_id", f"pii-canary-{n}a")]), n),
            kinesis_record(pii_line([pojo_item("user_id", f"pii-canary-{n}b")]), n + 10),
        )
        answer = await asyncio.to_thread(entry.handler, event, LambdaContext())
        assert answer == {"batchItemFailures": []}
    assert len(vault.peers) == 4  # bulk size 1: a call per pair
    assert len(set(vault.peers)) == 1
    assert len(vault.storage.inner) == 4
    assert "pii-canary" not in log_output()


async def test_a_bad_configuration_raises_naming_the_variable_until_it_is_fixed(
    vault: Vault, environ: pytest.MonkeyPatch
) -> None:
    event = lambda_event(kinesis_record(pii_line([pojo_item("user_id", "pii-canary")]), 1))
    with pytest.raises(OptionError, match=r"^PIINGUIN_TARGET \(--target\): required"):
        await asyncio.to_thread(entry.handler, event, LambdaContext())
    environ.setenv("PIINGUIN_TARGET", vault.target)
    environ.setenv("PIINGUIN_CONCURRENCY", "0")
    with pytest.raises(OptionError, match=r"^PIINGUIN_CONCURRENCY \(--concurrency\): must be"):
        await asyncio.to_thread(entry.handler, event, LambdaContext())
    environ.delenv("PIINGUIN_CONCURRENCY")
    assert await asyncio.to_thread(entry.handler, event, LambdaContext()) == {
        "batchItemFailures": []
    }


def test_importing_the_handler_opens_nothing_and_pulls_in_no_storage_code() -> None:
    """Lambda imports the module once per process: no loop, no client, no config read
    there; and the deployment zip leaves aioboto3 and the storage package out."""
    probe = (
        "import asyncio, json, sys\n"
        "import relay.handler as h\n"
        "assert h._relay.cache_info().currsize == 0\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIINGUIN_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    modules = set(json.loads(result.stdout))
    assert {"relay", "piinguin", "grpclib", "orjson", "structlog"} <= modules
    assert not modules & {"storage", "aioboto3", "aiobotocore", "boto3", "botocore", "moto"}
