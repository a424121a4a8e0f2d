"""Progress and checkpoints of a vault rewrite (``piinguin-admin encrypt``/``reencrypt``).

Progress goes to stderr: redrawn in place on a terminal, a line every ``LOG_EVERY`` seconds
otherwise (a log file), and always after the last page. A checkpoint file, when given, is
rewritten atomically after every page with the key to resume after; a run given the same
file resumes from it, and a finished one starts over (rewriting is idempotent).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from storage.migrate import Mode, Tally

LOG_EVERY = 5.0
_CLEAR_LINE = "\r\x1b[K"
_DONE = {"encrypt": "encrypted", "reencrypt": "re-encrypted"}
_ALREADY = {"encrypt": "already encrypted", "reencrypt": "already under the current key"}


def describe(mode: Mode, tally: Tally) -> str:
    parts = [
        f"{tally.scanned:,} scanned",
        f"{tally.rewritten:,} {_DONE[mode]}",
        f"{tally.already:,} {_ALREADY[mode]}",
    ]
    if mode == "reencrypt":
        parts.append(f"{tally.plaintext:,} in clear (run encrypt)")
    parts += [
        f"{tally.changed:,} rewritten by the server meanwhile (its write stands)",
        f"{tally.unreadable:,} unreadable",
        f"{tally.failed:,} failed",
    ]
    return ", ".join(parts)


class Reporter:
    """``update`` after each page: progress on ``stream`` and the checkpoint."""

    def __init__(
        self,
        mode: Mode,
        stream: TextIO,
        checkpoint: Checkpoint | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._mode = mode
        self._stream = stream
        self._live = stream.isatty()
        self._checkpoint = checkpoint
        self._clock = clock
        self._said = clock()

    async def update(self, tally: Tally) -> None:
        if self._checkpoint is not None:
            await self._checkpoint.save(tally)
        now = self._clock()
        line = f"{self._mode}: {describe(self._mode, tally)}"
        if self._live:
            self._stream.write(_CLEAR_LINE + line + ("\n" if tally.done else ""))
            self._stream.flush()
        elif tally.done or now - self._said >= LOG_EVERY:
            self._stream.write(line + "\n")
            self._stream.flush()
            self._said = now


class Checkpoint:
    """Where a rewrite of ``table`` resumes: a small JSON file."""

    def __init__(self, path: Path, mode: Mode, table: str) -> None:
        self.path = path
        self._identity = {"command": mode, "table": table}

    async def resume_after(self) -> tuple[bool, str | None]:
        """(whether an unfinished run of this command on this table left the file, the key
        to resume after)."""
        try:
            text = await asyncio.to_thread(self.path.read_text)
        except FileNotFoundError:
            return False, None
        try:
            saved = json.loads(text)
            mine = all(saved.get(k) == v for k, v in self._identity.items())
        except (ValueError, AttributeError):
            raise ValueError(f"{self.path} is not a checkpoint of piinguin-admin") from None
        if not mine:
            raise ValueError(
                f"{self.path} is the checkpoint of {saved.get('command')} on table "
                f"{saved.get('table')!r}, not of this run"
            )
        if saved.get("done") or not isinstance(saved.get("resume_after"), str):
            return False, None
        return True, str(saved["resume_after"])

    async def save(self, tally: Tally) -> None:
        text = json.dumps(
            {**self._identity, "resume_after": tally.resume_after, "done": tally.done}
        )
        await asyncio.to_thread(_replace, self.path, text)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text + "\n")
    os.replace(temporary, path)
