"""Writing audit events: to the audit store (fail closed) and to the ``piinguin.audit`` log."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.unauthenticated import UnauthenticatedAudit
from piinguin.ids import new_id
from piinguin.logs import STATUS_NAMES
from piinguin.stored import storage_failure
from piinguin.v1 import basis_name, ground_name
from storage import AuditStore, StorageError
from storage.audit import AuditEvent, KeyOutcome

log = structlog.get_logger("piinguin.audit")
#: What the audit store is called in messages and log lines.
AUDIT_LOG = "the audit log"


def _nothing() -> None:
    return None


class Auditor:
    """Records audit events. ``failed`` is called each time the store refuses an event (the
    metrics count it); ``unauthenticated`` records the events of calls that failed
    authentication, within ``unauthenticated_per_second`` a second for each peer address."""

    def __init__(
        self,
        store: AuditStore,
        *,
        failed: Callable[[], None] = _nothing,
        unauthenticated_per_second: int = 100,
    ) -> None:
        self.store = store
        self._failed = failed
        # Resolved once, as CallTracker does: one audit line per read.
        self._lines = log.bind()
        self.unauthenticated = UnauthenticatedAudit(self.record_done, unauthenticated_per_second)

    def event(
        self,
        *,
        operation: str,
        principal: str,
        method: str,
        code: Status,
        keys: Sequence[KeyOutcome] = (),
        lawful_basis: int = 0,
        purpose: str = "",
        request_id: str = "",
        peer: str = "",
        legacy: bool = False,
        restriction_ground: int = 0,
    ) -> AuditEvent:
        return AuditEvent(
            new_id(),
            datetime.now(UTC),
            principal,
            operation,
            method,
            code.value,
            tuple(keys),
            int(lawful_basis),
            purpose,
            request_id,
            peer,
            legacy,
            1,
            int(restriction_ground),
        )

    async def record(self, event: AuditEvent) -> None:
        """Store the event before anything personal leaves: UNAVAILABLE if it cannot be."""
        self._log(event)
        try:
            await self.store.append(event)
        except StorageError as exc:
            self._failed()
            raise storage_failure(exc, store=AUDIT_LOG, event_id=event.event_id) from exc

    async def record_done(self, event: AuditEvent) -> None:
        """Record something that already happened and disclosed nothing: a refusal, a
        delete. It stands whether or not the store answers, and is answered as it
        happened; ``record`` has logged the event and the store's failure."""
        with contextlib.suppress(GRPCError):
            await self.record(event)

    def _log(self, event: AuditEvent) -> None:
        self._lines.info(
            "audit",
            event_id=event.event_id,
            principal=event.principal,
            operation=event.operation,
            method=event.method,
            code=STATUS_NAMES.get(event.code) or str(event.code),
            keys=[[k.modified_value, STATUS_NAMES.get(k.code) or str(k.code)] for k in event.keys],
            lawful_basis=basis_name(event.lawful_basis),
            purpose=event.purpose,
            request_id=event.request_id,
            peer=event.peer,
            legacy=event.legacy,
            calls=event.calls,
            restriction_ground=ground_name(event.restriction_ground),
        )
