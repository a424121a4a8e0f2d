"""The commands people run: ``make run``, ``piinguin-server`` and ``piinguin-healthcheck``
(docker-compose runs them too: tests/test_compose.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord

from .conftest import BIN, free_port, running

pytestmark = pytest.mark.socket


async def round_trip(port: int) -> None:
    async with PiinguinClient(f"127.0.0.1:{port}") as client:
        await client.create_record(PiiRecord(modified_value="k", original_value="v@acme.com"))
        record = await client.read_record("k", basis=LawfulBasis.CONSENT, purpose="smoke test")
        assert record.original_value == "v@acme.com"


async def test_make_run_serves_on_the_memory_backend_and_stops_on_sigterm() -> None:
    port = free_port()
    async with running(["make", "--no-print-directory", "run", f"PORT={port}"], port) as server:
        await round_trip(port)
        code = await server.stop()
    output = "".join(server.output)
    # make itself dies of the SIGTERM (or reports its child's end as 2); the server's own
    # last words show it drained.
    assert code in (0, 2, -15), output
    assert "stopped" in output


async def test_server_logs_json_and_drains_on_sigterm() -> None:
    port = free_port()
    argv = [
        str(BIN / "piinguin-server"),
        "--port",
        str(port),
        "--storage",
        "memory",
        "--insecure-no-auth",
    ]
    async with running(argv, port) as server:
        await round_trip(port)
        assert await server.stop() == 0
    lines = [json.loads(line) for line in "".join(server.output).splitlines()]
    events = [line["event"] for line in lines]
    assert events[-2:] == ["draining", "stopped"]
    calls = [line for line in lines if line["event"] == "call"]
    assert [c["method"] for c in calls] == [
        "/piinguin.v1.Piinguin/CreatePiiRecord",
        "/piinguin.v1.Piinguin/ReadPiiRecord",
    ]
    assert "v@acme.com" not in "".join(server.output)


def test_healthcheck_fails_when_nothing_listens() -> None:
    result = subprocess.run(
        [str(BIN / "piinguin-healthcheck"), f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("piinguin-healthcheck: cannot reach 127.0.0.1:")
    assert result.stderr.endswith(": Connection refused\n")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "70000"], {}, "--port: must be between 0 and 65535, got 70000"),
        (["--port", "abc"], {}, "--port: expected a whole number, got 'abc'"),
        ([], {"PIINGUIN_PORT": "x"}, "--port (from PIINGUIN_PORT): expected a whole number"),
        (["--storage", "disk"], {}, "--storage: expected one of memory, dynamodb, got 'disk'"),
        (["--max-bulk-items", "0"], {}, "--max-bulk-items: must be between 1 and 100000"),
        (["--grace-period", "-1"], {}, "--grace-period: must be between 0 and 3600"),
        (
            ["--insecure-no-auth", "--region", "eu west 1"],
            {},
            "--region: expected an AWS region name such as eu-west-1, got 'eu west 1'",
        ),
        (
            ["--insecure-no-auth", "--dynamodb-endpoint", "moto:5000"],
            {},
            "--dynamodb-endpoint: expected an http:// or https:// URL",
        ),
        (
            ["--insecure-no-auth", "--storage", "dynamodb", "--insecure-no-encryption"],
            {"AWS_CONFIG_FILE": "/nonexistent/aws-config"},  # no region from this machine
            "--region: no AWS region: give --region or set AWS_REGION",
        ),
        (
            ["--insecure-no-auth", "--storage", "dynamodb"],
            {},
            "--keyring: required with --storage dynamodb",
        ),
        (
            ["--insecure-no-auth", "--keyring", "local:/nonexistent/keys.json"],
            {},
            "--keyring: cannot read key file /nonexistent/keys.json: No such file or directory",
        ),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_the_flag(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [str(BIN / "piinguin-server"), *argv],
        capture_output=True,
        text=True,
        env={"PATH": str(BIN), **env},
        check=False,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("piinguin-server: error: ")
    assert message in result.stderr
    assert sys.executable  # the console script ran from this virtualenv


@pytest.mark.parametrize("flag", [True, False])
async def test_legacy_api_flag_serves_the_original_protocol(flag: bool) -> None:
    from grpclib.client import Channel
    from grpclib.health.v1.health_grpc import HealthStub
    from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

    legacy = "com.snowplowanalytics.piinguin.server.generated.protocols.Piinguin"
    port = free_port()
    argv = [str(BIN / "piinguin-server"), "--port", str(port), "--insecure-no-auth"]
    async with running([*argv, "--legacy-api"] if flag else argv, port):
        channel = Channel("127.0.0.1", port)
        try:
            stub = HealthStub(channel)
            if flag:
                answer = await stub.Check(HealthCheckRequest(service=legacy))
                assert answer.status == HealthCheckResponse.SERVING
            else:
                with pytest.raises(GRPCError) as info:
                    await stub.Check(HealthCheckRequest(service=legacy))
                assert info.value.status is Status.NOT_FOUND
        finally:
            channel.close()
