"""``piinguin-relay``: files and stdin, in chunks, through the handler's own pipeline."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay.runner import main
from tests.relay.factory import (
    expected_pair,
    key,
    page_view_line,
    pii_line,
    pojo_item,
)

from .servers import Vault, serving_stricter

pytestmark = pytest.mark.socket

ORIGINALS = [f"pii-canary-{n}@example.org" for n in range(5)]
PAIRS = [expected_pair(key(o), o, "user_id") for o in ORIGINALS]


def lines() -> bytes:
    """Five PII events (one key twice), another event, a short line, bytes not UTF-8."""
    text = [
        pii_line([pojo_item("user_id", ORIGINALS[0]), pojo_item("user_id", ORIGINALS[1])]),
        page_view_line(),
        pii_line([pojo_item("user_id", ORIGINALS[2])]),
        "too\tfew\tfields",
        pii_line([pojo_item("user_id", ORIGINALS[3])]),
        pii_line([pojo_item("user_id", ORIGINALS[0])]),
        pii_line([pojo_item("user_id", ORIGINALS[4])]),
    ]
    return "\n".join(text).encode() + b"\n\xff\xfe not utf-8\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def relay(
    *argv: str, target: str, stdin: bytes = b"", stderr: io.StringIO | None = None, **kw: Any
) -> int:
    """Run ``piinguin-relay`` in a thread (it runs its own loop), logs to the test's buffer."""
    return await asyncio.to_thread(
        main,
        ["--target", target, *argv],
        {},
        stdin=io.BytesIO(stdin),
        stderr=stderr or io.StringIO(),
        configure_logs=False,
        **kw,
    )


def summary(log_output: Callable[[], str]) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        json.loads(line) for line in log_output().splitlines() if "relay_summary" in line
    ]
    (line,) = lines
    return line


async def test_a_file_in_chunks_is_stored_and_summed_up(
    vault: Vault, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    path = tmp_path / "pii.tsv"
    path.write_bytes(lines())
    assert await relay(str(path), target=vault.target, chunk_lines=3) == 0
    assert await vault.stored(PAIRS) == PAIRS
    assert len(vault.peers) == 3  # one bulk call for each chunk with pairs
    counters = summary(log_output)
    assert {k: counters[k] for k in ("lines", "records", "pii_events", "written", "failed")} == {
        "lines": 8,
        "records": 8,
        "pii_events": 5,
        "written": 6,  # unique keys per chunk: ORIGINALS[0] is in two chunks
        "failed": 0,
    }
    assert (counters["malformed_wrong_field_count"], counters["malformed_not_utf8"]) == (1, 1)
    malformed = [json.loads(x) for x in log_output().splitlines() if "relay_malformed" in x]
    assert [m["line"] for m in malformed] == [f"{path}:4", f"{path}:8"]
    assert "pii-canary" not in log_output()


async def test_stdin_and_gzip(vault: Vault, tmp_path: Path, log_output: Callable[[], str]) -> None:
    archive = tmp_path / "pii.tsv.gz"
    archive.write_bytes(gzip.compress(pii_line([pojo_item("user_id", ORIGINALS[4])]).encode()))
    first = pii_line([pojo_item("user_id", ORIGINALS[0])]).encode() + b"\n"
    assert await relay("-", str(archive), target=vault.target, stdin=first) == 0
    assert await vault.stored([PAIRS[0], PAIRS[4]]) == [PAIRS[0], PAIRS[4]]
    assert summary(log_output)["written"] == 2
    assert "pii-canary" not in log_output()


async def test_without_files_it_reads_stdin(vault: Vault, log_output: Callable[[], str]) -> None:
    assert await relay(target=vault.target, stdin=lines()) == 0
    assert await vault.stored(PAIRS) == PAIRS


async def test_failed_pairs_exit_1(vault: Vault, log_output: Callable[[], str]) -> None:
    vault.storage.failing = {key(ORIGINALS[2])}
    assert await relay(target=vault.target, stdin=lines()) == 1
    counters = summary(log_output)
    assert (counters["written"], counters["failed"], counters["failed_unavailable"]) == (4, 1, 1)


async def test_malformed_lines_exit_1_when_they_count_as_failures(
    vault: Vault, log_output: Callable[[], str]
) -> None:
    assert await relay("--fail-malformed", target=vault.target, stdin=lines()) == 1
    assert summary(log_output)["failed"] == 0


async def test_an_unreachable_server_stops_the_run_after_one_chunk(
    closed_target: str, log_output: Callable[[], str]
) -> None:
    assert await relay(target=closed_target, stdin=lines(), chunk_lines=2) == 1
    assert "relay_stopped" in log_output()
    assert summary(log_output)["lines"] == 2
    assert "pii-canary" not in log_output()


async def test_a_chunk_the_server_refuses_whole_does_not_stop_the_run(
    log_output: Callable[[], str],
) -> None:
    """Every pair of the first chunk refused for good (INVALID_ARGUMENT): the server
    answers, so the next chunk is still written; the refused pair fails the exit code."""
    text = [
        pii_line([pojo_item("user_id", f"pii-canary-{n} {outcome}")])
        for n, outcome in enumerate(("refused", "ok"))
    ]
    async with serving_stricter() as target:
        stdin = "\n".join(text).encode() + b"\n"
        assert await relay(target=target, stdin=stdin, chunk_lines=1) == 1
    assert "relay_stopped" not in log_output()
    counters = summary(log_output)
    assert (counters["lines"], counters["written"], counters["failed_invalid_argument"]) == (
        2,
        1,
        1,
    )


async def test_progress_only_on_a_terminal(vault: Vault, log_output: Callable[[], str]) -> None:
    terminal, pipe = Terminal(), io.StringIO()
    assert await relay(target=vault.target, stdin=lines(), stderr=terminal) == 0
    assert await relay(target=vault.target, stdin=lines(), stderr=pipe) == 0
    assert "8 lines" in terminal.getvalue()
    assert "written 5" in terminal.getvalue()
    _, summary_line = terminal.getvalue().rsplit("\r\x1b[K", 1)  # progress cleared, then
    assert summary_line.startswith(
        "piinguin-relay: 8 lines: 5 PII events, 1 other event, 2 malformed (not_utf8 1,"
        " wrong_field_count 1); 5 keys written, 0 failed, in "
    )
    assert summary_line.endswith("s\n")
    assert summary_line.count("\n") == 1
    assert pipe.getvalue() == ""


async def test_progress_through_files_shows_the_total_and_the_time_left(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("piinguin.progress.INTERVAL", 0.0)  # draw after every chunk
    plain, packed = tmp_path / "a.tsv", tmp_path / "b.tsv.gz"
    plain.write_bytes(lines())
    packed.write_bytes(gzip.compress(lines()))
    total = plain.stat().st_size + packed.stat().st_size
    terminal = Terminal()

    assert await relay(str(plain), str(packed), target=vault.target, stderr=terminal) == 0

    drawn = [part for part in terminal.getvalue().split("\r\x1b[K") if " lines/s" in part]
    assert drawn[0].startswith(
        f"8 lines · {plain.stat().st_size / total:.0%} of {total / 1000:.1f} kB"
    )
    assert drawn[-1].startswith(f"16 lines · 100% of {total / 1000:.1f} kB")
    assert all(" · ETA " in part for part in drawn)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "the input is empty: there was no line to relay"),
        (
            b"user-1\tjohn@example.com\n\xff\n",
            "no line of the input is an enriched event: all 2 lines are malformed (not_utf8 1,"
            " wrong_field_count 1); the input must be Snowplow enriched events, one per line",
        ),
    ],
)
async def test_an_input_without_one_valid_line_exits_1_and_says_so(
    vault: Vault, stdin: bytes, message: str, log_output: Callable[[], str]
) -> None:
    err = io.StringIO()

    assert await relay(target=vault.target, stdin=stdin, stderr=err) == 1

    assert err.getvalue() == f"piinguin-relay: error: {message}\n"
    assert "john@example.com" not in err.getvalue() + log_output()
    assert vault.peers == []


async def test_other_events_alone_are_a_valid_input(vault: Vault) -> None:
    assert await relay(target=vault.target, stdin=page_view_line().encode()) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--bulk-size", "5000"],
            "PIINGUIN_BULK_SIZE (--bulk-size): must be between 1 and 1000, got 5000",
        ),
        (["--concurrency", "x"], "--concurrency: expected a whole number, got 'x'"),
        (["nowhere.tsv"], "no such file: nowhere.tsv"),
    ],
)
async def test_bad_usage_exits_2_with_one_line(vault: Vault, argv: list[str], message: str) -> None:
    err = io.StringIO()
    assert await relay(*argv, target=vault.target, stderr=err) == 2
    assert err.getvalue() == f"piinguin-relay: error: {message}\n"


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "piinguin-relay"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    for flag in ("--target", "--token", "--tls-ca", "--bulk-size", "--concurrency"):
        assert flag in result.stdout
    assert "PIINGUIN_BULK_SIZE" in result.stdout
