"""The policy at start-up and on SIGHUP, and what --insecure-no-auth does."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from piinguin.access.policy import Policy, PolicyError, Refusal
from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord, Unauthenticated
from piinguin.server.config import ServerConfig
from tests.conftest import running_entry_point
from tests.doubles import SlowStorage

from .conftest import TOKENS, policy_text

pytestmark = pytest.mark.socket


async def wait_for_log(log_output: Callable[[], str], event: str) -> None:
    async with asyncio.timeout(10):
        # The signal handler logs from the loop; the buffer has no event to wait on.
        while f'"event":"{event}"' not in log_output():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_sighup_reloads_the_policy_without_dropping_calls_in_flight(
    monkeypatch: pytest.MonkeyPatch, policy_file: Path, log_output: Callable[[], str]
) -> None:
    storage = SlowStorage()
    monkeypatch.setattr("piinguin.server.main.MemoryStorage", lambda **_: storage)
    config = ServerConfig(port=0, policy=str(policy_file), grace_period=30)
    async with running_entry_point(config) as running:
        target = f"127.0.0.1:{running.port}"
        await wait_for_log(log_output, "serving")

        async with PiinguinClient(target, token=TOKENS["relay"]) as relay:
            in_flight = asyncio.create_task(
                relay.create_record(PiiRecord(modified_value="k", original_value="v"))
            )
            await storage.entered.wait()

            rotated = {**TOKENS, "support": "support-token-NEW"}
            await asyncio.to_thread(policy_file.write_text, policy_text(rotated))
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_for_log(log_output, "policy_reloaded")

            async with PiinguinClient(target, token="support-token-NEW") as new:
                with pytest.raises(Exception, match="no record"):
                    await new.read_record("absent", basis=LawfulBasis.CONSENT, purpose="ticket-1")
            async with PiinguinClient(target, token=TOKENS["support"]) as old:
                with pytest.raises(Unauthenticated):
                    await old.read_record("absent", basis=LawfulBasis.CONSENT, purpose="ticket-1")

            storage.release.set()
            await in_flight  # the call that was running through the reload finishes OK

        await asyncio.to_thread(policy_file.write_text, "this is [not toml")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for_log(log_output, "policy_reload_failed")
        async with PiinguinClient(target, token="support-token-NEW") as still:
            with pytest.raises(Exception, match="no record"):
                await still.read_record("absent", basis=LawfulBasis.CONSENT, purpose="ticket-1")

    assert len(storage) == 1


def server(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "piinguin-server"), "--port", "0", *argv],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **(env or {})},
        check=False,
        timeout=30,
    )


def test_without_a_policy_the_server_refuses_to_start() -> None:
    result = server()

    assert result.returncode == 1
    assert result.stderr == (
        "piinguin-server: error: --policy: required: a file saying who may do what "
        "(or --insecure-no-auth, for local development only)\n"
    )


def test_a_broken_policy_stops_the_server_with_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[principals.x]\noperations = ["wirte"]\n')

    result = server("--policy", str(policy))

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "--policy:" in result.stderr
    assert "principals.x.operations: unknown ['wirte']" in result.stderr


def test_policy_and_insecure_cannot_be_combined(tmp_path: Path) -> None:
    result = server("--insecure-no-auth", env={"PIINGUIN_POLICY": str(tmp_path / "p.toml")})

    assert result.returncode == 1
    assert "--insecure-no-auth: cannot be combined with --policy" in result.stderr


async def test_insecure_mode_warns_at_start_and_on_every_call(
    log_output: Callable[[], str],
) -> None:
    config = ServerConfig(port=0, insecure_no_auth=True)
    async with (
        running_entry_point(config) as running,
        PiinguinClient(f"127.0.0.1:{running.port}") as client,
    ):
        await client.create_record(PiiRecord(modified_value="k", original_value="v"))
        await client.delete_record("k")

    lines = [json.loads(line) for line in log_output().splitlines()]
    [start] = [line for line in lines if line["event"] == "insecure_no_auth"]
    assert start["level"] == "warning"
    calls = [line for line in lines if line["event"] == "call"]
    assert len(calls) == 2
    assert all(c["insecure_no_auth"] is True and c["level"] == "warning" for c in calls)
    assert all(c["principal"] == "anonymous" for c in calls)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "needs a [principals.NAME] table"),
        ({"principals": {"a": {"operations": ["read"]}}}, "a principal that may read needs"),
        ({"principals": {"a": {"operations": ["fly"]}}}, "unknown ['fly']"),
        ({"principals": {"a": {"token_sha256": ["abc"]}}}, "not a lowercase SHA-256"),
        ({"principals": {"a": {"colour": "red"}}}, "unknown keys ['colour']"),
        (
            {"principals": {"a": {"operations": ["read"], "lawful_bases": ["whim"]}}},
            "unknown 'whim'",
        ),
        (
            {
                "principals": {
                    "a": {
                        "operations": ["read"],
                        "lawful_bases": ["consent"],
                        "purpose_pattern": "(",
                    }
                }
            },
            "not a valid regex",
        ),
        (
            {"principals": {"a": {"token_sha256": ["0" * 64]}, "b": {"token_sha256": ["0" * 64]}}},
            "also given to principals.a",
        ),
    ],
)
def test_policy_mistakes_are_named(document: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        Policy.from_document(document)


def test_tokens_are_matched_by_digest_and_bases_by_name() -> None:
    policy = Policy.from_document(
        {
            "principals": {
                "s": {
                    "token_sha256": [
                        "3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0"
                    ],
                    "operations": ["read"],
                    "lawful_bases": ["Legitimate-Interests"],
                }
            }
        }
    )

    assert policy.principal_for_token("token") == "s"
    assert policy.principal_for_token("Token") is None
    assert policy.grants["s"].lawful_bases == {int(LawfulBasis.LEGITIMATE_INTERESTS)}


@pytest.mark.parametrize(
    ("pattern", "purpose", "allowed"),
    [
        ("^ticket-[0-9]+$", "ticket-1", True),
        ("^ticket-[0-9]+$", "ticket-1\n", False),  # re.search lets $ match before a newline
        ("ticket-[0-9]+", "ticket-1", True),
        ("ticket-[0-9]+", "see ticket-1, and then some", False),  # no anchors needed
        ("ticket-[0-9]+|order [0-9]+", "order 7", True),
    ],
)
def test_a_purpose_pattern_must_match_the_whole_purpose(
    pattern: str, purpose: str, allowed: bool
) -> None:
    grant = Policy.from_document(
        {
            "principals": {
                "s": {
                    "operations": ["read"],
                    "lawful_bases": ["consent"],
                    "purpose_pattern": pattern,
                }
            }
        }
    ).grants["s"]

    problem = grant.read_problem(int(LawfulBasis.CONSENT), purpose)

    assert (problem is None) is allowed
    if not allowed:
        assert problem == Refusal(
            "purpose", "principal 's': purpose does not match the required pattern"
        )
