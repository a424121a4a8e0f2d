"""Per-call bookkeeping: authentication, one log line per call, the metrics, and the
in-flight count that drain waits on.

``CallTracker.wrap`` wraps each method of a service where grpclib looks it up (the
service's ``__mapping__``), so the wrapper runs in the call's own task and sees exactly
what the handler raised; metadata and peer come from the stream. (A grpclib
``RecvRequest`` listener could do the same, but it makes grpclib build and dispatch an
event object per call.) The handler reads who is calling from ``current_call()``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
from grpclib.const import Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Authenticator
from piinguin.access.context import CallContext, enter_call, leave_call
from piinguin.ids import new_id
from piinguin.logs import STATUS_NAMES

if TYPE_CHECKING:
    from piinguin.server.grpclib_internals import IServable, IServerMethodFunc
    from piinguin.server.metrics import Metrics

#: The call lines' logger; CallTracker resolves it once (see there).
log = structlog.get_logger("piinguin.server.calls")

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
_NO_METADATA: Mapping[str, Any] = {}


def _request_id(metadata: object) -> str:
    given = getattr(metadata, "get", lambda _key: None)("x-request-id")
    if isinstance(given, str) and 0 < len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return new_id()


class CallTracker:
    """Wraps every call: authenticates, logs it, counts it in flight and in ``metrics``,
    and refuses new ones while draining."""

    def __init__(
        self, auth: Authenticator, auditor: Auditor, metrics: Metrics | None = None
    ) -> None:
        self.auth = auth
        self.auditor = auditor
        self._metrics = metrics
        if metrics is not None:
            metrics.watch_in_flight(lambda: self._in_flight)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False
        # Resolved now, once the entry point has configured logging, instead of through
        # the lazy proxy on every call: a unary read is a few hundred microseconds.
        lines = log.bind()
        # Without authentication every line is a warning and says so.
        self._emit, self._marks = (
            (lines.warning, _INSECURE) if auth.is_insecure else (lines.info, _SECURE)
        )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def wrap(self, service: IServable) -> IServable:
        """``service`` as grpclib serves it, each method tracked (infrastructure methods
        as they are)."""
        return _Tracked(self, service)

    def track(
        self,
        name: str,
        method: IServerMethodFunc,
        operation: str = "",
        *,
        bulk: bool = False,
        legacy: bool = False,
    ) -> IServerMethodFunc:
        """``method`` (the grpclib handler of ``name``) authenticated, counted in flight,
        refused while draining, and logged; ``operation`` (and ``legacy``, for the original
        protocol's methods) is what a refusal of an unauthenticated call is audited as; a
        ``bulk`` method's items are measured."""
        if name in INFRASTRUCTURE_METHODS:
            return method
        measured = self._metrics.method(name, bulk=bulk) if self._metrics is not None else None

        async def tracked(stream: Stream[Any, Any]) -> None:
            if self.draining:
                raise GRPCError(Status.UNAVAILABLE, "server is shutting down")
            metadata = stream.metadata or _NO_METADATA
            peer = stream.peer
            address = peer.addr()
            context = CallContext(
                name,
                f"{address[0]}:{address[1]}" if address else "unknown",
                _request_id(metadata),
            )
            self._in_flight += 1
            self._idle.clear()
            if measured is not None:
                measured.started()
            token = enter_call(context)
            status = Status.OK
            started = time.perf_counter()
            logged = True
            try:
                try:
                    context.caller = self.auth.authenticate(metadata, peer)
                except GRPCError as exc:
                    context.denial = "unauthenticated"
                    logged = await self._record_unauthenticated(
                        context, operation, exc.status, legacy
                    )
                    raise
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
                leave_call(token)
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
                seconds = time.perf_counter() - started
                if measured is not None:
                    measured.finished(status, seconds, context.items, context.denial)
                if logged:
                    self._log(context, status, seconds)

        return tracked

    async def _record_unauthenticated(
        self, context: CallContext, operation: str, code: Status, legacy: bool
    ) -> bool:
        """Audit an unauthenticated call within its address's budget; False past it, when
        its call line is left out too (the counted audit event stands for it)."""
        # The request is not read: an unauthenticated caller learns nothing, and the
        # keys it named are not recorded.
        return await self.auditor.unauthenticated.record(
            self.auditor.event(
                operation=operation,
                principal="",
                method=context.method,
                code=code,
                request_id=context.request_id,
                peer=context.peer,
                legacy=legacy,
            )
        )

    def _log(self, context: CallContext, status: Status, seconds: float) -> None:
        caller = context.caller
        self._emit(
            "call",
            method=context.method,
            peer=context.peer,
            principal=caller.principal if caller else "",
            request_id=context.request_id,
            code=STATUS_NAMES[status],
            duration_ms=round(seconds * 1000, 3),
            items=context.items,
            **self._marks,
        )


_SECURE: dict[str, bool] = {}
_INSECURE = {"insecure_no_auth": True}


class _Tracked:
    """A service whose ``__mapping__`` gives its methods tracked."""

    def __init__(self, tracker: CallTracker, service: IServable) -> None:
        self._tracker = tracker
        self._service = service

    def __mapping__(self) -> dict[str, Handler]:
        # Piinguin's services declare what each method does and which carry many items;
        # health and reflection don't.
        operations: Mapping[str, str] = getattr(self._service, "operations", {})
        bulk: frozenset[str] = getattr(self._service, "bulk_methods", frozenset())
        legacy: bool = getattr(self._service, "legacy", False)
        return {
            name: handler._replace(
                func=self._tracker.track(
                    name,
                    handler.func,
                    operations.get(name, ""),
                    bulk=name in bulk,
                    legacy=legacy,
                )
            )
            for name, handler in self._service.__mapping__().items()
        }
