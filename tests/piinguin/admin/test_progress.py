"""What a rewrite says while it runs, and its checkpoint file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from piinguin.admin.progress import Checkpoint, Reporter, describe
from storage.migrate import Tally


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_summary_names_every_count() -> None:
    tally = Tally(scanned=1500, rewritten=1200, already=290, changed=7, unreadable=2, failed=1)

    assert describe("encrypt", tally) == (
        "1,500 scanned, 1,200 encrypted, 290 already encrypted, 7 rewritten by the server "
        "meanwhile (its write stands), 2 unreadable, 1 failed"
    )
    assert "0 in clear (run encrypt)" in describe("reencrypt", Tally())


async def test_a_log_gets_a_line_every_few_seconds_and_the_last_one() -> None:
    stream, clock = io.StringIO(), Clock()
    reporter = Reporter("encrypt", stream, None, clock=clock)

    clock.now = 1.0
    await reporter.update(Tally(scanned=500))
    clock.now = 6.0
    await reporter.update(Tally(scanned=1000))
    clock.now = 7.0
    await reporter.update(Tally(scanned=1200, done=True))

    assert [line.split(" scanned")[0] for line in stream.getvalue().splitlines()] == [
        "encrypt: 1,000",
        "encrypt: 1,200",
    ]


async def test_a_terminal_gets_one_line_redrawn() -> None:
    stream = Terminal()
    reporter = Reporter("reencrypt", stream, None)

    await reporter.update(Tally(scanned=500))
    await reporter.update(Tally(scanned=900, done=True))

    assert stream.getvalue().count("\r\x1b[K") == 2
    assert stream.getvalue().endswith("\n")
    assert stream.getvalue().count("\n") == 1


async def test_a_checkpoint_resumes_an_unfinished_run_of_the_same_command(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    checkpoint = Checkpoint(path, "encrypt", "piinguin")
    assert await checkpoint.resume_after() == (False, None)

    await checkpoint.save(Tally(resume_after="key-500"))
    assert await checkpoint.resume_after() == (True, "key-500")
    await checkpoint.save(Tally(resume_after=None, done=True))
    assert await checkpoint.resume_after() == (False, None)
    assert json.loads(path.read_text()) == {
        "command": "encrypt",
        "table": "piinguin",
        "resume_after": None,
        "done": True,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"command": "reencrypt", "table": "piinguin", "resume_after": "k"}', "of reencrypt"),
        ('{"command": "encrypt", "table": "other", "resume_after": "k"}', "table 'other'"),
        ("not json", "is not a checkpoint of piinguin-admin"),
    ],
)
async def test_another_run_s_checkpoint_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(text)

    with pytest.raises(ValueError, match=problem):
        await Checkpoint(path, "encrypt", "piinguin").resume_after()
