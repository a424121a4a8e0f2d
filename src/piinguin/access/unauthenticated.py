"""Auditing calls that fail authentication without letting a flood of them drown the log.

Each peer address has a budget of events a second: its calls that fail authentication
are recorded one by one (each with its own request id) until the budget is spent; the rest
of that second becomes a single event whose ``calls`` is their exact count. That event is
written when the second ends, by a timer, whether or not another call comes, and at the
latest when the server closes. So 6,000 bad calls in a second write 100 events and one
more, and none goes unrecorded. The calls past the budget get no ``call`` log line either
(``piinguin.server.calls``): a flood costs the log what it costs the audit log.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from storage.audit import AuditEvent

Write = Callable[[AuditEvent], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class _Address:
    recorded: int = 0
    #: The first call past the budget, and how many calls its event stands for.
    past: AuditEvent | None = None
    count: int = 0


def peer_address(peer: str) -> str:
    """``10.0.0.7`` of the peer ``10.0.0.7:53122`` (``::1`` of ``::1:53122``)."""
    address, colon, port = peer.rpartition(":")
    return address if colon and port.isdigit() else peer


class UnauthenticatedAudit:
    """``record`` an unauthenticated call's event, within ``per_second`` events a second
    for its peer address; ``close`` writes what is still counted. ``window`` is the length
    of a "second", for tests."""

    def __init__(self, write: Write, per_second: int, *, window: float = 1.0) -> None:
        if per_second < 0:
            raise ValueError("per_second must not be negative")
        self._write = write
        self._per_second = per_second
        self._window = window
        self._addresses: dict[str, _Address] = {}
        self._current: int | None = None  # the window _addresses counts
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()

    async def record(self, event: AuditEvent) -> bool:
        """Write ``event`` now, within the budget (True); past it, count it and return at
        once (False): the call's own log line is then left out too, the counted event
        standing for it."""
        self._roll(math.floor(asyncio.get_running_loop().time() / self._window))
        address = self._addresses.setdefault(peer_address(event.peer), _Address())
        if address.recorded < self._per_second:
            address.recorded += 1
            await self._write(event)
            return True
        if address.past is None:
            address.past = event
        address.count += 1
        return False

    async def close(self) -> None:
        """Write every count still held, and wait for every write under way."""
        self._flush()
        if self._writing:
            await asyncio.wait(set(self._writing))

    def _roll(self, window: int) -> None:
        """Start counting ``window`` if it is a new one; what the last one counted goes."""
        if window == self._current:
            return
        self._flush()
        self._current = window
        self._timer = asyncio.get_running_loop().call_at((window + 1) * self._window, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        addresses, self._addresses, self._current = self._addresses, {}, None
        for address, counted in addresses.items():
            if counted.past is None:
                continue
            event = counted.past._replace(peer=address, calls=counted.count)
            task = asyncio.get_running_loop().create_task(self._write(event))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)
