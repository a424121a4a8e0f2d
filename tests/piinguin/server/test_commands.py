"""The commands people run: ``make run``, ``piinguin-server`` and the docker-compose service."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys

import pytest
import yaml
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from tests.dynamodb_fixtures import fresh_table_name

from .conftest import BIN, REPO, free_port, running

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


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="Debian's docker-compose is not installed (make test installs it when it can)",
)
@pytest.mark.parametrize("profile", [[], ["--profile", "dynamodb"]], ids=["default", "dynamodb"])
def test_docker_compose_file_is_valid(profile: list[str]) -> None:
    result = subprocess.run(
        ["docker-compose", *profile, "config", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


async def test_the_compose_service_command_serves_with_its_environment() -> None:
    service = compose()["services"]["piinguin"]  # type: ignore[index]
    port = free_port()
    env = {key: str(value) for key, value in service["environment"].items()}
    env["PIINGUIN_PORT"] = str(port)  # the container's port may be taken on this machine
    healthcheck = service["healthcheck"]["test"]
    assert healthcheck[0] == "CMD"

    async with running(service["command"], port, env=env):
        await round_trip(port)
        probe = await asyncio.create_subprocess_exec(
            str(BIN / healthcheck[1]), f"127.0.0.1:{port}", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await probe.communicate()
    assert probe.returncode == 0
    assert out.decode().strip() == "SERVING"


def test_the_dynamodb_services_start_only_with_their_profile() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)

    assert "profiles" not in services["piinguin"]
    assert services["moto"]["profiles"] == ["dynamodb"]
    assert services["piinguin-dynamodb"]["profiles"] == ["dynamodb"]
    assert services["piinguin-dynamodb"]["ports"] == ["127.0.0.1:50052:50051"]
    assert services["piinguin-dynamodb"]["depends_on"] == ["moto"]


async def test_the_dynamodb_compose_service_command_serves_against_moto(
    moto_endpoint: str,
) -> None:
    service = compose()["services"]["piinguin-dynamodb"]  # type: ignore[index]
    command = list(service["command"])
    # The container reaches moto as http://moto:5000; here the session's moto server
    # stands in for it. Only that argument is replaced: the rest is the exact command.
    endpoint_at = command.index("--dynamodb-endpoint") + 1
    assert command[endpoint_at] == "http://moto:5000"
    command[endpoint_at] = moto_endpoint
    port = free_port()
    env = {key: str(value) for key, value in service["environment"].items()}
    env["PIINGUIN_PORT"] = str(port)  # the container's port may be taken on this machine
    # The command leaves the table names to their defaults; fresh ones, set by environment,
    # keep this test off the tables of other tests that share the moto server.
    env["PIINGUIN_TABLE"], env["PIINGUIN_AUDIT_TABLE"] = fresh_table_name(), fresh_table_name()

    async with running(command, port, env=env) as server:
        await round_trip(port)
        probe = await asyncio.create_subprocess_exec(
            str(BIN / service["healthcheck"]["test"][1]),
            f"127.0.0.1:{port}",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await probe.communicate()
        code = await server.stop()

    assert (probe.returncode, out.decode().strip()) == (0, "SERVING")
    assert code == 0
    lines = [json.loads(line) for line in "".join(server.output).splitlines()]
    [opened] = [line for line in lines if line["event"] == "dynamodb"]
    assert (opened["table"], opened["create_table"]) == (env["PIINGUIN_TABLE"], True)
    assert "v@acme.com" not in "".join(server.output)


def test_dockerfile_runs_the_server_as_a_non_root_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text().splitlines()
    assert dockerfile[0].startswith("#")
    assert any(line.startswith("FROM python:3.11-slim") for line in dockerfile)
    user_lines = [line for line in dockerfile if line.startswith("USER ")]
    assert user_lines
    assert user_lines[-1] != "USER root"
    assert 'ENTRYPOINT ["piinguin-server"]' in dockerfile


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
            ["--insecure-no-auth", "--storage", "dynamodb"],
            {"AWS_CONFIG_FILE": "/nonexistent/aws-config"},  # no region from this machine
            "--region: no AWS region: give --region or set AWS_REGION",
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
