"""A one-line progress display for ``piinguin-relay`` on a terminal.

Hand-written rather than tqdm or rich: one line redrawn in place is all it needs, and
either library would be a new dependency of the package for it.
"""

from __future__ import annotations

import time
from typing import TextIO

#: Redraw at most this often, in seconds.
INTERVAL = 0.2
_CLEAR_LINE = "\r\x1b[K"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    """Lines read, how far through the input (when its size is known), rate, and pairs
    written and failed. Silent unless ``stream`` is a terminal."""

    def __init__(self, stream: TextIO, total_bytes: int | None) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._total = total_bytes
        self._started = time.monotonic()
        self._drawn = -INTERVAL  # the first update draws
        self._shown = False

    def update(self, *, lines: int, read_bytes: int, written: int, failed: int) -> None:
        now = time.monotonic()
        if not self._enabled or now - self._drawn < INTERVAL:
            return
        self._drawn = now
        rate = lines / max(now - self._started, 1e-9)
        parts = [f"{lines:,} lines"]
        if self._total:
            share = min(read_bytes / self._total, 1.0)
            parts.append(f"{share:.0%} of {_size(self._total)}")
        else:
            parts.append(_size(read_bytes))
        parts += [f"{rate:,.0f} lines/s", f"written {written:,}", f"failed {failed:,}"]
        self._stream.write(_CLEAR_LINE + " · ".join(parts))
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line, so that a log line can take its place; the next update
        redraws it."""
        if self._shown:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._shown = False
