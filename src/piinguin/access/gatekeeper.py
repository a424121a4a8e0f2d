"""Access decisions and their audit trail, shared by every service that touches records.

Deny by default: a call goes on only when the authenticated caller's grant allows it, and
a refusal is recorded before it is answered. Refusals never say whether a key exists.
Each handler names the operation it performs (``require``, ``record``); events carry it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Caller
from piinguin.access.context import CallContext, current_call
from piinguin.access.policy import Operation, Refusal
from piinguin.limits import key_problem
from storage import WriteOutcome
from storage.audit import AuditEvent, KeyOutcome


class Gatekeeper:
    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor

    @staticmethod
    def caller() -> Caller:
        caller = current_call().caller
        if caller is None:
            raise GRPCError(Status.UNAUTHENTICATED, "send a bearer token or a client certificate")
        return caller

    async def require(
        self, operation: Operation, keys: Sequence[str] = (), *, legacy: bool = False
    ) -> Caller:
        caller = self.caller()
        if not caller.grant.allows(operation):
            refusal = Refusal("operation", f"principal {caller.principal!r} may not {operation}")
            await self._deny(caller, operation, refusal, keys, legacy=legacy)
        return caller

    async def require_read(
        self,
        basis: int,
        purpose: str,
        keys: Sequence[str],
        *,
        legacy: bool = False,
        operation: Operation = "read",
        ground: int = 0,
    ) -> Caller:
        """Refuse (audited) unless the caller may perform ``operation``, one of the policy's
        ``JUSTIFIED`` operations, with this basis and purpose. ``ground``: the Art. 18(2)
        ground a read states, for its event."""
        caller = self.caller()
        refusal = caller.grant.read_problem(basis, purpose, legacy=legacy, operation=operation)
        if refusal is not None:
            await self._deny(
                caller,
                operation,
                refusal,
                keys,
                basis=basis,
                purpose=purpose,
                legacy=legacy,
                ground=ground,
            )
        return caller

    async def require_restricted_read(
        self,
        basis: int,
        purpose: str,
        keys: Sequence[str],
        *,
        legacy: bool = False,
        ground: int = 0,
    ) -> Caller:
        """Refuse (audited, with the ``ground`` stated) unless the caller's grant allows
        reading restricted records."""
        caller = self.caller()
        refusal = caller.grant.restricted_read_problem()
        if refusal is not None:
            await self._deny(
                caller,
                "read",
                refusal,
                keys,
                basis=basis,
                purpose=purpose,
                legacy=legacy,
                ground=ground,
            )
        return caller

    async def record(
        self,
        operation: Operation,
        code: Status,
        keys: Sequence[KeyOutcome] = (),
        *,
        basis: int = 0,
        purpose: str = "",
        legacy: bool = False,
        ground: int = 0,
    ) -> None:
        """Record a call that touched personal data; UNAVAILABLE if the record fails,
        and then the caller gets nothing personal."""
        context = current_call()
        caller = context.caller
        if caller is None:
            caller = self.caller()  # raises UNAUTHENTICATED
        await self.auditor.record(
            self._event(
                context,
                caller,
                operation,
                code,
                keys,
                basis=basis,
                purpose=purpose,
                legacy=legacy,
                ground=ground,
            )
        )

    async def delete(
        self,
        keys: Sequence[str],
        deletion: Awaitable[list[WriteOutcome]],
        *,
        per_item: bool = True,
        legacy: bool = False,
    ) -> list[WriteOutcome]:
        """Await ``deletion`` (of ``keys``) and record what it did: the event's code is the
        call's, OK where the answer carries each key's outcome (``per_item``), else the one
        key's. A deletion that raises or is cancelled partway may have removed some records
        already: it is recorded with every key UNAVAILABLE (its outcome unknown) before the
        error goes on, so no delete that happened goes unrecorded."""
        try:
            outcomes = await deletion
        except BaseException:
            unknown = Status.UNAVAILABLE
            await self.record_deletion(
                unknown, [KeyOutcome(k, unknown.value) for k in keys], legacy
            )
            raise
        ok, failed = Status.OK.value, Status.UNAVAILABLE.value
        await self.record_deletion(
            Status.OK if per_item or outcomes[0] is None else Status.UNAVAILABLE,
            [
                KeyOutcome(k, ok if o is None else failed)
                for k, o in zip(keys, outcomes, strict=True)
            ],
            legacy,
        )
        return outcomes

    async def record_deletion(
        self,
        code: Status,
        keys: Sequence[KeyOutcome],
        legacy: bool = False,
        *,
        operation: Operation = "delete",
        basis: int = 0,
        purpose: str = "",
    ) -> None:
        """Record a delete that has happened. It is not undone, nor answered as failed,
        when its event cannot be stored: a delete discloses nothing, and refusing to answer
        it truly would tell the caller its records are still there. The event is still on
        the ``piinguin.audit`` log, beside the audit store's failure, logged with its id.
        Shielded: a call cancelled now (a client's deadline, the drain's end) still leaves
        its event. An erasure (``operation="erase"``) is one too, with its basis and purpose."""
        event = self._event(
            current_call(),
            self.caller(),
            operation,
            code,
            keys,
            basis=basis,
            purpose=purpose,
            legacy=legacy,
        )
        await asyncio.shield(self.auditor.record_done(event))

    async def _deny(
        self,
        caller: Caller,
        operation: Operation,
        refusal: Refusal,
        keys: Sequence[str],
        *,
        basis: int = 0,
        purpose: str = "",
        legacy: bool = False,
        ground: int = 0,
    ) -> None:
        denied = Status.PERMISSION_DENIED
        # A refusal comes before validation, so its keys are not yet known to be keys: one
        # holding a control character could be a read-many line, value and all.
        outcomes = [KeyOutcome(key, denied.value) for key in keys if key_problem(key) is None]
        context = current_call()
        context.denial = refusal.reason
        await self.auditor.record_done(
            self._event(
                context,
                caller,
                operation,
                denied,
                outcomes,
                basis=basis,
                purpose=purpose,
                legacy=legacy,
                ground=ground,
            )
        )
        raise GRPCError(denied, refusal.message)

    def _event(
        self,
        context: CallContext,
        caller: Caller,
        operation: Operation,
        code: Status,
        keys: Sequence[KeyOutcome],
        *,
        basis: int,
        purpose: str,
        legacy: bool,
        ground: int = 0,
    ) -> AuditEvent:
        return self.auditor.event(
            operation=operation,
            principal=caller.principal,
            method=context.method,
            code=code,
            keys=keys,
            lawful_basis=basis,
            purpose=purpose,
            request_id=context.request_id,
            peer=context.peer,
            legacy=legacy,
            restriction_ground=ground,
        )
