"""A one-line progress display on a terminal, for ``piinguin-relay`` and ``piinguin
create-many``.

Hand-written rather than tqdm or rich: one line redrawn in place is all it needs, and
either library would be a new dependency of the package for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

#: Redraw at most this often, in seconds.
INTERVAL = 0.2
_CLEAR_LINE = "\r\x1b[K"


def size(n: float) -> str:
    """``512 B``, ``1.5 MB``: decimal units, as ``ls -h --si`` and disk makers count."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def duration(seconds: float) -> str:
    """``7s``, ``3m05s``, ``2h14m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """Lines read; with the input's size known, how far through it and the time left; the
    rate; and records written and failed. Silent unless ``stream`` is a terminal."""

    def __init__(
        self,
        stream: TextIO,
        total_bytes: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._total = total_bytes
        self._clock = clock
        self._started = clock()
        self._drawn = self._started - INTERVAL  # the first update draws
        self._shown = False

    def update(self, *, lines: int, read_bytes: int, written: int, failed: int) -> None:
        now = self._clock()
        if not self._enabled or now - self._drawn < INTERVAL:
            return
        self._drawn = now
        elapsed = max(now - self._started, 1e-9)
        parts = [f"{lines:,} lines"]
        eta = ""
        if self._total:
            share = min(read_bytes / self._total, 1.0)
            parts.append(f"{share:.0%} of {size(self._total)}")
            if share > 0:
                eta = f"ETA {duration(elapsed / share - elapsed)}"
        else:
            parts.append(size(read_bytes))
        parts.append(f"{lines / elapsed:,.0f} lines/s")
        if eta:
            parts.append(eta)
        parts += [f"written {written:,}", f"failed {failed:,}"]
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
