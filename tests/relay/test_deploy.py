"""The relay's deployment: the SAM template passes cfn-lint and says what the code needs,
and the zip that ``make lambda`` builds runs the handler with nothing else installed."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import Policy, token_digest
from relay.config import OPTIONS
from tests.doubles import FaultyStorage
from tests.relay.factory import kinesis_record, lambda_event, pii_line, pojo_item
from tools.constraints import LOCK, canonical, parse
from tools.package_relay import build, first_party_files, requirements

from .aws import Aws
from .servers import Vault, serving

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
NO_CFN_LINT = "cfn-lint (in the dev extra) is not installed"


def test_the_template_passes_cfn_lint() -> None:
    api = pytest.importorskip("cfnlint.api", reason=NO_CFN_LINT)
    assert [str(match) for match in api.lint_file(TEMPLATE)] == []


def test_the_template_wires_the_handler_to_the_stream_with_partial_batch_responses() -> None:
    decode = pytest.importorskip(
        "cfnlint.decode", reason="cfn-lint (the dev extra) is not installed"
    )
    template, problems = decode.decode(str(TEMPLATE))
    assert not problems
    function = template["Resources"]["Relay"]["Properties"]
    assert (function["Handler"], function["Runtime"]) == ("relay.handler.handler", "python3.11")
    assert function["CodeUri"] == "dist/piinguin-relay.zip"
    variables = set(function["Environment"]["Variables"])
    assert "PIINGUIN_TARGET" in variables
    assert variables <= {option.env for option in OPTIONS}
    stream = function["Events"]["PiiStream"]["Properties"]
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "OnFailure" in stream["DestinationConfig"]


def test_requirements_are_the_projects_pins_of_what_is_imported() -> None:
    dependencies = ["grpclib>=0.4.8,<0.5", "aioboto3>=13.0", "orjson>=3.10", "Betterproto2[x]>=0"]
    provided = {"grpclib", "orjson", "betterproto2", "multidict", "pydantic"}
    assert requirements(dependencies, provided) == [
        "grpclib>=0.4.8,<0.5",
        "orjson>=3.10",
        "Betterproto2[x]>=0",
    ]


def test_first_party_files_keep_package_paths() -> None:
    src = REPO / "src"
    modules: dict[str, str | None] = {
        "relay": str(src / "relay" / "__init__.py"),
        "relay.handler": str(src / "relay" / "handler.py"),
        "json": "/usr/lib/python3.11/json/__init__.py",
        "sys": None,
    }
    assert first_party_files(modules) == {
        "relay/__init__.py": src / "relay" / "__init__.py",
        "relay/handler.py": src / "relay" / "handler.py",
    }


@pytest.mark.socket
async def test_the_zip_runs_the_handler_with_nothing_else_installed(
    vault: Vault, tmp_path: Path, aws: Aws
) -> None:
    """Builds the zip (pip fetches the Lambda wheels from the package index: a few
    seconds with a warm pip cache), unpacks it and invokes the handler from it in an
    interpreter without site-packages, against a server on a socket; then again with
    its token in Secrets Manager (moto), read with the botocore that Lambda's runtime
    provides (here: this environment's botocore and its dependencies alone)."""
    archive = tmp_path / "piinguin-relay.zip"
    await asyncio.to_thread(build, archive)
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        zipped.extractall(tmp_path / "lambda")
    tops = {name.split("/")[0] for name in names}
    assert {"relay", "piinguin", "grpclib", "google", "orjson", "structlog"} <= tops
    assert not tops & {"storage", "aioboto3", "aiobotocore", "botocore", "boto3", "pydantic"}
    assert "relay/handler.py" in names
    for left_out in (
        "relay/runner.py",
        "tools/package_relay.py",
        "piinguin/server/core.py",
        "piinguin/server/__init__.py",
    ):
        assert left_out not in names
    assert not [name for name in names if "__pycache__" in name]
    # Every distribution in the zip at the version constraints.txt pins, as in the image.
    lock = parse(LOCK.read_text())
    shipped = {
        canonical(name): version
        for name, version in (
            top.removesuffix(".dist-info").rsplit("-", 1)
            for top in tops
            if top.endswith(".dist-info")
        )
    }
    assert {"grpclib", "orjson", "structlog"} <= set(shipped)
    assert {name: lock.get(name) for name in shipped} == shipped

    original = "pii-canary-zip@example.org"
    event = lambda_event(kinesis_record(pii_line([pojo_item("user_id", original)]), 1))
    answer, logs = await run_unpacked(tmp_path / "lambda", vault.target, event)
    assert answer == {"batchItemFailures": []}
    assert len(vault.storage.inner) == 1
    assert '"event":"relay_summary"' in logs
    assert '"_aws":{"Timestamp"' in logs  # the metrics line
    assert original not in logs

    token = "relay-token-in-secrets-manager-zip"
    policy = {
        "principals": {"relay": {"token_sha256": [token_digest(token)], "operations": ["write"]}}
    }
    async with serving(
        FaultyStorage(), auth=Authenticator(Policy.from_document(policy))
    ) as guarded:
        answer, logs = await run_unpacked(
            tmp_path / "lambda",
            guarded.target,
            event,
            environ={"PIINGUIN_TOKEN_SECRET": await aws.secret(token)},
            runtime=lambda_runtime(tmp_path / "runtime"),
        )
        assert answer == {"batchItemFailures": []}
        assert len(guarded.storage.inner) == 1
    assert token not in logs
    assert original not in logs


#: What Lambda's Python runtime provides beside the standard library, of what the relay
#: uses: botocore, and what botocore imports.
RUNTIME_DISTRIBUTIONS = ("botocore", "dateutil", "jmespath", "six", "urllib3")


def lambda_runtime(root: Path) -> Path:
    """A folder holding links to this environment's botocore and its dependencies, and
    nothing else: what Lambda's runtime adds to the path."""
    root.mkdir()
    for name in RUNTIME_DISTRIBUTIONS:
        module = importlib.import_module(name)
        source = Path(module.__file__ or "")
        source = source.parent if source.name == "__init__.py" else source
        (root / source.name).symlink_to(source)
    return root


INVOKE = """
import json, sys
from relay.handler import handler

class Context:
    def get_remaining_time_in_millis(self):
        return 30_000

answer = handler(json.load(sys.stdin), Context())
print("ANSWER " + json.dumps(answer))
"""


async def run_unpacked(
    root: Path,
    target: str,
    event: dict[str, Any],
    *,
    environ: dict[str, str] | None = None,
    runtime: Path | None = None,
) -> tuple[Any, str]:
    """The handler's answer, and its logs, run from ``root`` (and ``runtime``) by
    ``python -S``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIINGUIN_", "PYTHON"))}
    path = [str(root)] if runtime is None else [str(root), str(runtime)]
    env |= {"PYTHONPATH": os.pathsep.join(path), "PIINGUIN_TARGET": target, **(environ or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-S",  # no site-packages: only the standard library and the zip
        "-c",
        INVOKE,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(json.dumps(event).encode()), 60)
    text = output.decode()
    assert process.returncode == 0, text
    answers = [line for line in text.splitlines() if line.startswith("ANSWER ")]
    assert len(answers) == 1, text
    return json.loads(answers[0].removeprefix("ANSWER ")), text
