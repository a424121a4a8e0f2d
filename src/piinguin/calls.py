"""Per-call bookkeeping: one log line per call, and the in-flight count that drain waits on.

grpclib's ``RecvRequest`` event lets a listener replace the method about to run; we wrap
it, so the wrapper runs in the call's own task and sees exactly what the handler raised.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from dataclasses import dataclass

import structlog
from grpclib.const import Status
from grpclib.events import RecvRequest
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

log = structlog.get_logger("piinguin.calls")


@dataclass(slots=True)
class CallInfo:
    items: int = 0


_current: ContextVar[CallInfo | None] = ContextVar("piinguin_call", default=None)


def count_items(items: int) -> None:
    """Record how many items the current call carries, for its log line."""
    info = _current.get()
    if info is not None:
        info.items = items


#: Health and reflection keep answering while draining (load balancers must see
#: NOT_SERVING), and their long-lived streams must not hold the drain open.
INFRASTRUCTURE_METHODS = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    }
)


class CallTracker:
    """Wraps every call: logs it, counts it in flight, and refuses new ones while draining."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def on_recv_request(self, event: RecvRequest) -> None:
        name = event.method_name
        if name in INFRASTRUCTURE_METHODS:
            return
        method = event.method_func
        peer = event.peer.addr()
        host_port = f"{peer[0]}:{peer[1]}" if peer else "unknown"

        async def tracked(stream: Stream[object, object]) -> None:
            if self.draining:
                raise GRPCError(Status.UNAVAILABLE, "server is shutting down")
            self._in_flight += 1
            self._idle.clear()
            info = CallInfo()
            token = _current.set(info)
            status = Status.OK
            started = time.perf_counter()
            try:
                await method(stream)
            except GRPCError as exc:
                status = exc.status
                raise
            except asyncio.CancelledError:
                if not self.draining:
                    status = Status.CANCELLED
                    raise
                # The drain's grace period ran out and grpclib's close() cancelled us:
                # answer with a status instead of leaving the client to hang.
                status = Status.UNAVAILABLE
                raise GRPCError(
                    Status.UNAVAILABLE, "server shut down before the call finished"
                ) from None
            except Exception:
                status = Status.UNKNOWN
                raise
            finally:
                _current.reset(token)
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
                log.info(
                    "call",
                    method=name,
                    peer=host_port,
                    code=status.name,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    items=info.items,
                )

        event.method_func = tracked
