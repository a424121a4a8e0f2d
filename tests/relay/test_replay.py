"""``piinguin-relay replay``: ranges Lambda gave up on, read again from Kinesis (moto, in
server mode) and written to a real server; messages from files or from the queue."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay import replay as replay_command
from relay.runner import main
from tests.relay.factory import (
    expected_pair,
    failure_message,
    key,
    page_view_line,
    pii_line,
    pojo_item,
)

from .aws import Aws
from .servers import Vault, serving_stricter

pytestmark = pytest.mark.socket

ORIGINALS = [f"pii-canary-replay-{n}@example.org" for n in range(5)]


def records() -> list[bytes]:
    """Seven records: PII events of ORIGINALS 0 to 4, another event at 2, bytes not UTF-8
    at 5 (0-based)."""
    lines = [pii_line([pojo_item("user_id", o)]).encode() for o in ORIGINALS]
    lines.insert(2, page_view_line().encode())
    lines.insert(5, b"\xff\xfe not utf-8")
    return lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def replay(
    *argv: str, target: str, stdin: bytes = b"", stderr: io.StringIO | None = None
) -> int:
    """``piinguin-relay replay`` in a thread (it runs its own loop); logs to the test's
    buffer; the queue is read without long polling (moto would wait it out)."""
    return await asyncio.to_thread(
        replay_command.main,
        ["--target", target, *argv],
        {},
        stdin=io.BytesIO(stdin),
        stderr=stderr or io.StringIO(),
        configure_logs=False,
        queue_wait_sec=0,
    )


def logged(log_output: Callable[[], str], event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_output().splitlines()]
    return [line for line in lines if line["event"] == event]


def users(*numbers: int) -> list[Any]:
    return [expected_pair(key(ORIGINALS[n]), ORIGINALS[n], "user_id") for n in numbers]


async def test_a_range_from_a_file_writes_exactly_its_records(
    aws: Aws, vault: Vault, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    arn, shard, numbers = await aws.stream(records())
    # Lambda gave up on records 1 to 5: ORIGINALS 1 to 3, another event, bad bytes.
    path = tmp_path / "message.json"
    path.write_text(json.dumps(failure_message(arn, shard, numbers[1], numbers[5], 5)))
    err = Terminal()
    assert await replay(str(path), target=vault.target, stderr=err) == 0
    assert await vault.stored(users(1, 2, 3)) == users(1, 2, 3)
    assert len(vault.storage.inner) == 3
    (ranged,) = logged(log_output, "replay_range")
    assert ranged["range"] == f"{shard}:{numbers[1]}-{numbers[5]}"
    assert (ranged["records"], ranged["written"], ranged["done"]) == (5, 3, True)
    assert ranged["malformed_not_utf8"] == 1
    assert ranged["condition"] == "RetryAttemptsExhausted"
    (summary,) = logged(log_output, "replay_summary")
    assert (summary["ranges"], summary["ranges_done"], summary["written"]) == (1, 1, 3)
    progress, last = err.getvalue().rsplit("\r\x1b[K", 1)
    assert "] 100%" in progress
    assert "5 of 5 records" in progress
    assert "ETA" in progress
    assert last == (
        "piinguin-relay replay: 1 of 1 ranges written in full; 5 records read, "
        "3 pairs written, 0 failed, 1 malformed records\n"
    )
    assert "pii-canary" not in log_output()


async def test_the_queue_is_replayed_and_only_messages_written_in_full_are_deleted(
    aws: Aws, vault: Vault, log_output: Callable[[], str]
) -> None:
    arn, shard, numbers = await aws.stream(records())
    url = await aws.queue(
        json.dumps(failure_message(arn, shard, numbers[0], numbers[1], 2)),
        json.dumps(failure_message(arn, "shardId-000000000007", numbers[3], numbers[4], 2)),
        '{"hello": "not a failure message"}',
        json.dumps(failure_message(arn, shard, numbers[6], numbers[6], 1)),
    )
    vault.storage.failing = {key(ORIGINALS[4])}  # in the last range
    err = io.StringIO()
    assert await replay("--queue-url", url, target=vault.target, stderr=err) == 1
    assert await vault.stored(users(0, 1)) == users(0, 1)
    assert await aws.queue_depth(url) == 3  # the first alone was deleted
    assert [r["done"] for r in logged(log_output, "replay_range")] == [True, False]
    (unreadable,) = logged(log_output, "replay_unreadable")
    assert unreadable["error"] == "ResourceNotFoundException"
    (bad,) = logged(log_output, "replay_bad_message")
    assert "no KinesisBatchInfo" in bad["error"]
    (summary,) = logged(log_output, "replay_summary")
    assert {k: summary[k] for k in ("ranges", "ranges_done", "messages_deleted")} == {
        "ranges": 3,
        "ranges_done": 1,
        "messages_deleted": 1,
    }
    assert summary["messages_unreadable"] == 1
    assert summary["failed_unavailable"] == 1
    assert err.getvalue().endswith("; 1 messages deleted, 1 unreadable\n")
    assert "pii-canary" not in log_output()


async def test_a_pair_refused_for_good_does_not_keep_its_message_on_the_queue(
    aws: Aws, log_output: Callable[[], str]
) -> None:
    """As in the Lambda: INVALID_ARGUMENT is settled, UNAVAILABLE is not."""
    lines = [
        pii_line([pojo_item("user_id", f"pii-canary-{n} {outcome}")]).encode()
        for n, outcome in enumerate(("ok", "refused", "flaky"))
    ]
    arn, shard, numbers = await aws.stream(lines)
    refused = json.dumps(failure_message(arn, shard, numbers[0], numbers[1], 2))
    flaky = json.dumps(failure_message(arn, shard, numbers[2], numbers[2], 1))
    url = await aws.queue(refused, flaky)
    async with serving_stricter() as target:
        assert await replay("--queue-url", url, target=target) == 1
    assert await aws.queue_depth(url) == 1  # the flaky range's message alone stays
    ranges = logged(log_output, "replay_range")
    assert [(r["done"], r["failed"]) for r in ranges] == [(True, 1), (False, 1)]
    assert (ranges[0]["failed_invalid_argument"], ranges[1]["failed_unavailable"]) == (1, 1)
    assert "pii-canary" not in log_output()


async def test_a_range_the_server_refuses_whole_is_done_and_the_next_is_replayed(
    aws: Aws, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    """A server that answers every pair of a page with INVALID_ARGUMENT is up: the range
    is settled, as in the Lambda, and the run goes on to the next one."""
    lines = [
        pii_line([pojo_item("user_id", f"pii-canary-{n} {outcome}")]).encode()
        for n, outcome in enumerate(("refused", "ok"))
    ]
    arn, shard, numbers = await aws.stream(lines)
    path = tmp_path / "messages.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(failure_message(arn, shard, numbers[n], numbers[n], 1)) for n in (0, 1)
        )
    )
    async with serving_stricter() as target:
        assert await replay(str(path), target=target) == 0
    assert [r["done"] for r in logged(log_output, "replay_range")] == [True, True]
    assert "relay_stopped" not in log_output()


async def test_a_range_whose_end_the_shard_no_longer_holds_is_not_done(
    aws: Aws, vault: Vault, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    arn, shard, numbers = await aws.stream(records()[:2])
    beyond = str(int(numbers[-1]) + 1_000)
    path = tmp_path / "message.json"
    path.write_text(json.dumps(failure_message(arn, shard, numbers[0], beyond, 3)))
    assert await replay(str(path), target=vault.target) == 1
    assert await vault.stored(users(0, 1)) == users(0, 1)  # what is there is written
    (ranged,) = logged(log_output, "replay_range")
    assert (ranged["complete"], ranged["done"]) == (False, False)
    assert "replay it from the archive" in logged(log_output, "replay_incomplete")[0]["reason"]


async def test_an_unreachable_server_stops_after_the_first_range(
    aws: Aws, closed_target: str, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    arn, shard, numbers = await aws.stream(records())
    path = tmp_path / "messages.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(failure_message(arn, shard, numbers[n], numbers[n], 1)) for n in (0, 1)
        )
    )
    assert await replay(str(path), target=closed_target) == 1
    assert len(logged(log_output, "replay_range")) == 1
    assert "relay_stopped" in log_output()


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (
            ["--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", "m.json"],
            b"",
            "give --queue-url or MESSAGE_FILEs, not both",
        ),
        ([], b'[{"KinesisBatchInfo": {}}]', "<stdin>: message 1: KinesisBatchInfo.streamArn"),
        (["nowhere.json"], b"", "No such file or directory: 'nowhere.json'"),
    ],
)
async def test_bad_usage_exits_2_with_one_line(
    vault: Vault, argv: list[str], stdin: bytes, message: str
) -> None:
    err = io.StringIO()
    assert await replay(*argv, target=vault.target, stdin=stdin, stderr=err) == 2
    assert err.getvalue().startswith("piinguin-relay replay: error: ")
    assert message in err.getvalue()
    assert err.getvalue().count("\n") == 1


def test_help_names_the_queue_and_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--help"], {}) == 0
    text = capsys.readouterr().out
    for flag in ("--queue-url", "--target", "--token-secret", "MESSAGE_FILE"):
        assert flag in text
    assert main(["--help"], {}) == 0
    assert "piinguin-relay replay --help" in capsys.readouterr().out
