"""docker-compose.yml and the Dockerfiles, checked without Docker (``make e2e`` runs them in it).

Each service's argv is built as Docker builds it, from its image's ENTRYPOINT and CMD and the
service's ``entrypoint:`` and ``command:``, then run on the host with this virtualenv's console
scripts, and must pass the service's own health check. Only what cannot be the same on a host
changes: published ports become free ones, ``0.0.0.0`` becomes ``127.0.0.1`` and another
service's name (``http://moto:5000``) becomes its address here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from tests.conftest import scrape

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.socket


@dataclass
class Image:
    """What a Dockerfile's last stage says about running it."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    healthcheck: list[str] | None = None
    user: str | None = None


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def exec_or_shell(value: str) -> list[str]:
    """Docker's two forms: a JSON array is the argv, anything else runs in ``/bin/sh -c``."""
    if value.startswith("["):
        argv = json.loads(value)
        assert isinstance(argv, list)
        return [str(arg) for arg in argv]
    return ["/bin/sh", "-c", value]


def image(dockerfile: Path) -> Image:
    result = Image()
    for word, rest in instructions(dockerfile.read_text()):
        if word == "FROM":
            result = Image()  # a new stage: only the last one runs
        elif word == "ENTRYPOINT":
            result.entrypoint, result.cmd = exec_or_shell(rest), None
        elif word == "CMD":
            result.cmd = exec_or_shell(rest)
        elif word == "ENV":
            pairs = shlex.split(rest)
            if "=" not in pairs[0]:  # the legacy `ENV KEY value`
                pairs = [f"{pairs[0]}={' '.join(pairs[1:])}"]
            for pair in pairs:
                key, _, value = pair.partition("=")
                result.env[key] = value
        elif word == "HEALTHCHECK":
            result.healthcheck = exec_or_shell(rest.split("CMD", 1)[1].strip())
        elif word == "USER":
            result.user = rest
    return result


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def service_image(service: Mapping[str, Any]) -> Image:
    build = service["build"]
    context, dockerfile = (
        (build, "Dockerfile")
        if isinstance(build, str)
        else (
            build["context"],
            build.get("dockerfile", "Dockerfile"),
        )
    )
    return image(REPO / context / dockerfile)


def words(value: str | list[Any]) -> list[str]:
    """compose's `command:` and `entrypoint:`: a list as it is, a string split as a shell
    would split it."""
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def docker_argv(built: Image, service: Mapping[str, Any]) -> list[str]:
    """As Docker runs a container: a service's `entrypoint:` replaces the image's ENTRYPOINT
    and drops its CMD, a `command:` replaces the CMD, and the process is ENTRYPOINT + CMD."""
    entrypoint, cmd = built.entrypoint, built.cmd
    if "entrypoint" in service:
        entrypoint, cmd = words(service["entrypoint"]), None
    if "command" in service:
        cmd = words(service["command"])
    return [*(entrypoint or []), *(cmd or [])]


def healthcheck_argv(built: Image, service: Mapping[str, Any]) -> list[str]:
    test = service.get("healthcheck", {}).get("test")
    if test is None:
        assert built.healthcheck is not None, "no health check in the service or its image"
        return built.healthcheck
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), f"health check {test!r}"
    return rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]


def environment(built: Image, service: Mapping[str, Any]) -> dict[str, str]:
    env = dict(built.env)
    given = service.get("environment", {})
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    env.update({key: str(value) for key, value in given.items()})
    return env


def container_ports(service: Mapping[str, Any]) -> list[int]:
    """The container side of each published port, the service's own port first."""
    return [int(str(published).rsplit(":", 1)[1].split("/")[0]) for published in service["ports"]]


def enabled(profile: str | None) -> dict[str, dict[str, Any]]:
    """The services `up` starts with ``--profile profile`` (or none), in start order."""
    services = {
        name: service
        for name, service in compose()["services"].items()
        if "profiles" not in service or profile in service["profiles"]
    }
    ordered: dict[str, dict[str, Any]] = {}
    while len(ordered) < len(services):
        for name, service in services.items():
            if name not in ordered and set(service.get("depends_on", [])) <= set(ordered):
                ordered[name] = service
    return ordered


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Ports = dict[int, int]  # a service's published ports: container port -> host port


def on_host(text: str, own: Ports, ports: Mapping[str, Ports]) -> str:
    """``text`` as it must read on this host: another service's ``name:port`` becomes
    ``127.0.0.1:host_port``, this service's container ports its host ports (``own``), and
    ``0.0.0.0`` loopback. ``ports`` maps each service to its ports."""
    for name, published in ports.items():
        for inside, outside in published.items():
            text = re.sub(
                rf"(?<![\w.-]){re.escape(name)}:{inside}(?!\d)", f"127.0.0.1:{outside}", text
            )
    for inside, outside in own.items():
        text = re.sub(rf"(?<![\d.]){inside}(?!\d)", str(outside), text)
    return text.replace("0.0.0.0", "127.0.0.1")


@dataclass
class Started:
    name: str
    argv: list[str]
    process: asyncio.subprocess.Process
    host_port: int
    host_ports: Ports
    output: bytes = b""

    async def stop(self) -> int:
        """SIGTERM, as ``docker stop`` sends; the exit code. Once is enough."""
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        if self.process.stdout is not None and not self.process.stdout.at_eof():
            self.output += await asyncio.wait_for(self.process.stdout.read(), 30)
        return await asyncio.wait_for(self.process.wait(), 30)


async def healthy(started: Started, check: list[str], env: Mapping[str, str]) -> None:
    """Poll the service's health check until it passes; fail fast if the service dies."""
    async with asyncio.timeout(60):
        while started.process.returncode is None:
            probe = await asyncio.create_subprocess_exec(
                *check,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await probe.wait() == 0:
                return
            await asyncio.sleep(0.2)
    await started.stop()
    raise AssertionError(
        f"{started.name}: {shlex.join(started.argv)} exited {started.process.returncode}: "
        + started.output.decode(errors="replace")[-2000:]
    )


@asynccontextmanager
async def stack(profile: str | None, tmp_path: Path) -> AsyncIterator[dict[str, Started]]:
    """Every service of ``profile`` running on the host, each one healthy before the next."""
    services = enabled(profile)
    ports = {
        name: {inside: free_port() for inside in container_ports(s)} for name, s in services.items()
    }
    started: dict[str, Started] = {}
    async with AsyncExitStack() as stack:
        for name, service in services.items():
            built = service_image(service)
            own = ports[name]
            argv = [on_host(arg, own, ports) for arg in docker_argv(built, service)]
            env = {k: on_host(v, own, ports) for k, v in environment(built, service).items()}
            env |= {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            host_port = ports[name][container_ports(service)[0]]
            started[name] = Started(name, argv, process, host_port, ports[name])
            stack.push_async_callback(started[name].stop)
            check = [on_host(arg, own, ports) for arg in healthcheck_argv(built, service)]
            await healthy(started[name], check, env)
        yield started


async def round_trip(port: int) -> None:
    async with PiinguinClient(f"127.0.0.1:{port}") as client:
        await client.create_record(PiiRecord(modified_value="k", original_value="v@acme.com"))
        record = await client.read_record("k", basis=LawfulBasis.CONSENT, purpose="compose")
        assert record.original_value == "v@acme.com"


def test_an_argv_is_built_as_docker_builds_it() -> None:
    built = Image(entrypoint=["server"], cmd=["--default"])
    assert docker_argv(built, {}) == ["server", "--default"]
    assert docker_argv(built, {"command": ["--port", "1"]}) == ["server", "--port", "1"]
    assert docker_argv(built, {"command": "--purpose 'a b'"}) == ["server", "--purpose", "a b"]
    assert docker_argv(built, {"entrypoint": "sh"}) == ["sh"]
    assert docker_argv(built, {"entrypoint": ["sh"], "command": "-c x"}) == ["sh", "-c", "x"]
    assert exec_or_shell("echo $HOME") == ["/bin/sh", "-c", "echo $HOME"]


def test_the_images_run_as_unprivileged_users_with_an_entrypoint() -> None:
    for name in ("Dockerfile", "Dockerfile.moto"):
        built = image(REPO / name)
        assert built.user not in (None, "root", "0"), name
        assert built.entrypoint, name
    assert image(REPO / "Dockerfile").entrypoint == ["piinguin-server"]
    assert image(REPO / "Dockerfile.moto").entrypoint == ["moto_server"]


def test_the_images_install_the_locked_versions() -> None:
    """The server image resolves nothing of its own: its build stage makes wheels under
    constraints.txt and the final stage installs only those. The moto image installs under
    it too. (``make e2e`` compares each built image's ``pip freeze`` with the file.)"""
    server = instructions((REPO / "Dockerfile").read_text())
    runs = [rest for word, rest in server if word == "RUN" and "pip " in rest]
    assert len(runs) == 3
    assert "--constraint constraints.txt" in runs[0]
    assert "--no-deps" in runs[1]  # the project's own wheel: its dependencies come from runs[0]
    assert "--no-index" in runs[2]
    moto = [rest for word, rest in instructions((REPO / "Dockerfile.moto").read_text())]
    assert any("--constraint /tmp/constraints.txt 'moto[server,dynamodb]'" in r for r in moto)


def test_only_the_dynamodb_profile_adds_moto_and_its_server() -> None:
    assert list(enabled(None)) == ["piinguin"]
    assert list(enabled("dynamodb")) == ["piinguin", "moto", "piinguin-dynamodb"]
    ports = {name: s["ports"] for name, s in compose()["services"].items()}
    assert ports == {
        "piinguin": [
            "127.0.0.1:${PIINGUIN_HOST_PORT:-50051}:50051",
            "127.0.0.1:${PIINGUIN_METRICS_HOST_PORT:-9464}:9464",
        ],
        "moto": ["127.0.0.1:${MOTO_HOST_PORT:-5000}:5000"],
        "piinguin-dynamodb": ["127.0.0.1:${PIINGUIN_DYNAMODB_HOST_PORT:-50052}:50051"],
    }


def compose_command() -> list[str] | None:
    if shutil.which("docker") is not None:
        found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if found.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") is not None else None


@pytest.mark.parametrize("profile", [[], ["--profile", "dynamodb"]], ids=["default", "dynamodb"])
def test_compose_accepts_the_file(profile: list[str]) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed to check it")
    result = subprocess.run(
        [*command, *profile, "config", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("profile", [None, "dynamodb"])
async def test_every_service_runs_as_docker_runs_it_and_passes_its_health_check(
    profile: str | None, tmp_path: Path
) -> None:
    async with stack(profile, tmp_path) as started:
        servers = [s for s in started.values() if Path(s.argv[0]).name == "piinguin-server"]
        assert len(servers) == (2 if profile else 1)
        for server in servers:
            await round_trip(server.host_port)
        # The default service serves its metrics on the port it publishes for them.
        metrics = await scrape(started["piinguin"].host_ports[9464])
        codes = {s.name: await s.stop() for s in servers}
    assert codes == dict.fromkeys(codes, 0)  # drained on SIGTERM, as `docker stop` sends
    create = "/piinguin.v1.Piinguin/CreatePiiRecord"
    assert metrics.value("piinguin_calls_total", method=create, code="OK") == 1
    for server in servers:
        lines = [json.loads(line) for line in server.output.decode().splitlines()]
        assert "v@acme.com" not in server.output.decode()
        assert [line["event"] for line in lines][-2:] == ["draining", "stopped"]
    if profile == "dynamodb":
        [opened] = [
            json.loads(line)
            for line in started["piinguin-dynamodb"].output.decode().splitlines()
            if '"event":"dynamodb"' in line
        ]
        assert opened["create_table"] is True
