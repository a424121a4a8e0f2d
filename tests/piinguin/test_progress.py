"""``piinguin.progress``: one line on a terminal, with a total and a time left when the
input's size is known."""

from __future__ import annotations

import io

import pytest

from piinguin.progress import Progress, duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_known_size_shows_the_share_done_and_the_time_left() -> None:
    terminal, clock = Terminal(), Clock()
    progress = Progress(terminal, 4_000_000, clock=clock)
    clock.now += 10  # a quarter of the input in 10 s: 30 s to go

    progress.update(lines=2500, read_bytes=1_000_000, written=2400, failed=3)

    assert terminal.getvalue() == (
        "\r\x1b[K2,500 lines · 25% of 4.0 MB · 250 lines/s · ETA 30s · written 2,400 · failed 3"
    )


def test_an_unknown_size_shows_the_bytes_read_and_no_time_left() -> None:
    terminal, clock = Terminal(), Clock()
    progress = Progress(terminal, None, clock=clock)
    clock.now += 2

    progress.update(lines=10, read_bytes=1500, written=10, failed=0)

    assert terminal.getvalue() == "\r\x1b[K10 lines · 1.5 kB · 5 lines/s · written 10 · failed 0"


def test_redraws_at_most_five_times_a_second_and_clears_its_line() -> None:
    terminal, clock = Terminal(), Clock()
    progress = Progress(terminal, 100, clock=clock)
    progress.update(lines=1, read_bytes=10, written=0, failed=0)
    clock.now += 0.1
    progress.update(lines=2, read_bytes=20, written=0, failed=0)  # too soon: not drawn

    progress.clear()
    progress.clear()  # nothing shown: nothing to clear

    assert terminal.getvalue().count("\r\x1b[K") == 2
    assert "2 lines" not in terminal.getvalue()


def test_silent_when_not_a_terminal() -> None:
    pipe = io.StringIO()
    progress = Progress(pipe, 100)
    progress.update(lines=1, read_bytes=10, written=1, failed=0)
    progress.clear()

    assert pipe.getvalue() == ""


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (59.4, "59s"), (185, "3m05s"), (8040, "2h14m")]
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text
