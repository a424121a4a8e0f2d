"""Access decisions and their audit trail, shared by every service that touches records.

Deny by default: a call goes on only when the authenticated caller's grant allows it, and
a refusal is recorded before it is answered. Refusals never say whether a key exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.auditing import Auditor
from piinguin.auth import Caller
from piinguin.calls import current_call
from storage.audit import KeyOutcome


class Gatekeeper:
    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor

    @staticmethod
    def caller() -> Caller:
        caller = current_call().caller
        if caller is None:
            raise GRPCError(Status.UNAUTHENTICATED, "send a bearer token or a client certificate")
        return caller

    async def require(self, operation: str, keys: Sequence[str] = ()) -> Caller:
        caller = self.caller()
        if not caller.grant.allows(operation):
            await self._deny(caller, f"principal {caller.principal!r} may not {operation}", keys)
        return caller

    async def require_read(
        self, basis: int, purpose: str, keys: Sequence[str], *, legacy: bool = False
    ) -> Caller:
        caller = self.caller()
        problem = caller.grant.read_problem(basis, purpose, legacy=legacy)
        if problem is not None:
            await self._deny(caller, problem, keys, basis=basis, purpose=purpose, legacy=legacy)
        return caller

    async def record(
        self,
        code: Status,
        keys: Sequence[KeyOutcome] = (),
        *,
        basis: int = 0,
        purpose: str = "",
        legacy: bool = False,
    ) -> None:
        """Record a call that touched personal data; UNAVAILABLE if the record fails,
        and then the caller gets nothing personal."""
        context = current_call()
        caller = context.caller
        if caller is None:
            caller = self.caller()  # raises UNAUTHENTICATED
        await self.auditor.record(
            self.auditor.event(
                principal=caller.principal,
                method=context.method,
                code=code,
                keys=keys,
                lawful_basis=basis,
                purpose=purpose,
                request_id=context.request_id,
                peer=context.peer,
                legacy=legacy,
            )
        )

    async def _deny(
        self,
        caller: Caller,
        problem: str,
        keys: Sequence[str],
        *,
        basis: int = 0,
        purpose: str = "",
        legacy: bool = False,
    ) -> None:
        context = current_call()
        denied = Status.PERMISSION_DENIED
        await self.auditor.record_denial(
            self.auditor.event(
                principal=caller.principal,
                method=context.method,
                code=denied,
                keys=[KeyOutcome(key, denied.value) for key in keys],
                lawful_basis=basis,
                purpose=purpose,
                request_id=context.request_id,
                peer=context.peer,
                legacy=legacy,
            )
        )
        raise GRPCError(denied, problem)
