"""``piinguin-healthcheck``: a status and exit 0 or 1, help, and failures as one sentence."""

from __future__ import annotations

import asyncio

import pytest

from piinguin.cli.healthcheck import run
from tests.piinguin.client.conftest import Vault


async def healthcheck(*argv: str) -> int | str | None:
    """Run the console script's entry point (it runs its own loop) in a thread."""
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(run, list(argv))
    return exited.value.code


async def test_a_serving_server_prints_serving_and_exits_0(
    vault: Vault, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await healthcheck(vault.target) == 0
    assert capsys.readouterr().out == "SERVING\n"


async def test_a_draining_server_prints_not_serving_and_exits_1(
    vault: Vault, capsys: pytest.CaptureFixture[str]
) -> None:
    vault.server.serving.set(False)

    assert await healthcheck(vault.target) == 1
    assert capsys.readouterr().out == "NOT_SERVING\n"


async def test_an_unreachable_server_is_one_sentence(closed_target: str) -> None:
    message = await healthcheck(closed_target, "--timeout", "2")

    assert message == f"piinguin-healthcheck: cannot reach {closed_target}: Connection refused"


async def test_a_target_with_a_scheme_is_explained() -> None:
    message = await healthcheck("http://127.0.0.1:50051")

    assert message == (
        "piinguin-healthcheck: error: target 'http://127.0.0.1:50051' has a scheme: a target"
        " is host:port, without http://, e.g. 127.0.0.1:50051"
    )


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(
        "usage: piinguin-healthcheck [-h] [--version] [--timeout TIMEOUT] [TARGET]"
    )
    assert "exit 0 when it is SERVING, 1 otherwise" in " ".join(out.split())
