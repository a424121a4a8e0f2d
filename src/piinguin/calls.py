"""Per-call bookkeeping: authentication, one log line per call, and the in-flight count
that drain waits on.

grpclib's ``RecvRequest`` event lets a listener replace the method about to run; we wrap
it, so the wrapper runs in the call's own task and sees exactly what the handler raised.
The handler reads who is calling from ``current_call()``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog
from grpclib.const import Status
from grpclib.events import RecvRequest
from grpclib.exceptions import GRPCError
from grpclib.protocol import Peer
from grpclib.server import Stream

from piinguin.auditing import Auditor
from piinguin.auth import Authenticator, Caller
from piinguin.ids import new_id

log = structlog.get_logger("piinguin.calls")

#: Health and reflection keep answering while draining (load balancers must see
#: NOT_SERVING), need no credentials, and their long-lived streams must not hold the
#: drain open.
INFRASTRUCTURE_METHODS = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    }
)
_MAX_REQUEST_ID = 128


@dataclass(slots=True)
class CallContext:
    method: str
    peer: str
    request_id: str
    caller: Caller | None = None
    items: int = 0


_current: ContextVar[CallContext | None] = ContextVar("piinguin_call", default=None)


def current_call() -> CallContext:
    """The running call's context; outside a tracked call (in-memory tests), an
    unauthenticated stand-in."""
    context = _current.get()
    if context is None:
        context = CallContext(method="", peer="", request_id=new_id())
        _current.set(context)
    return context


def count_items(items: int) -> None:
    """Record how many items the current call carries, for its log line."""
    current_call().items = items


def _request_id(metadata: object) -> str:
    given = getattr(metadata, "get", lambda _key: None)("x-request-id")
    if isinstance(given, str) and 0 < len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return new_id()


class CallTracker:
    """Wraps every call: authenticates, logs it, counts it in flight, and refuses new ones
    while draining."""

    def __init__(self, auth: Authenticator, auditor: Auditor) -> None:
        self.auth = auth
        self.auditor = auditor
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
        address = event.peer.addr()
        metadata, peer = event.metadata, event.peer
        context = CallContext(
            method=name,
            peer=f"{address[0]}:{address[1]}" if address else "unknown",
            request_id=_request_id(metadata),
        )

        async def tracked(stream: Stream[object, object]) -> None:
            if self.draining:
                raise GRPCError(Status.UNAVAILABLE, "server is shutting down")
            self._in_flight += 1
            self._idle.clear()
            token = _current.set(context)
            status = Status.OK
            started = time.perf_counter()
            try:
                context.caller = await self._authenticate(metadata, peer, context)
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
                self._log(context, status, time.perf_counter() - started)

        event.method_func = tracked

    async def _authenticate(
        self, metadata: Mapping[str, Any], peer: Peer, context: CallContext
    ) -> Caller:
        try:
            return self.auth.authenticate(metadata, peer)
        except GRPCError as exc:
            # The request is not read: an unauthenticated caller learns nothing, and the
            # keys it named are not recorded.
            await self.auditor.record_denial(
                self.auditor.event(
                    principal="",
                    method=context.method,
                    code=exc.status,
                    request_id=context.request_id,
                    peer=context.peer,
                )
            )
            raise

    def _log(self, context: CallContext, status: Status, seconds: float) -> None:
        fields: dict[str, object] = {
            "method": context.method,
            "peer": context.peer,
            "principal": context.caller.principal if context.caller else "",
            "request_id": context.request_id,
            "code": status.name,
            "duration_ms": round(seconds * 1000, 3),
            "items": context.items,
        }
        if self.auth.is_insecure:
            fields["insecure_no_auth"] = True
            log.warning("call", **fields)
        else:
            log.info("call", **fields)
