"""RestrictSubject and UnrestrictSubject (GDPR Art. 18), and what a read of a restricted
record is answered.

Restricting marks the person's pseudonyms and value digests first, then flags the records
stored now: a record written between the two, or at any time later, lands restricted
(``storage.base.SubjectStorage``). Lifting it removes the marks, then clears the flags.
Both are idempotent, so a call that failed partway (UNAVAILABLE) is completed by a retry.
Each is audited with every key it applied to and that key's outcome.

Reads check the flag only (``vault``, ``legacy``): a restricted record is answered to a
read that states an Art. 18(2) ground from a principal whose grant has
``restricted_reads``, and refused (FAILED_PRECONDITION, item code 9) to any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC, datetime

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.context import current_call
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Operation
from piinguin.services.subjects import Resolved, Subjects
from piinguin.stored import stored
from piinguin.v1 import GROUND_NAMES, RestrictSubjectResponse, SubjectRequest
from storage import WriteOutcome
from storage.audit import KeyOutcome

#: The status, and the message, of a read refused because the record is restricted. The
#: message names the remedy, never the record.
RESTRICTED = Status.FAILED_PRECONDITION
RESTRICTED_MESSAGE = (
    "restricted at the data subject's request (GDPR Art. 18): state a restriction ground"
)


def ground_problem(ground: int) -> str | None:
    """What is wrong with a read's stated restriction ground (0: none stated), or None."""
    if ground and ground not in GROUND_NAMES:
        return f"restriction_ground {int(ground)} is not a known Art. 18(2) ground"
    return None


async def restrict(subjects: Subjects, message: SubjectRequest) -> RestrictSubjectResponse:
    resolved = await subjects.resolve(message, "restrict")
    at = datetime.now(UTC)
    storage = subjects.storage
    keys, digests = resolved.keys, resolved.digests

    async def act() -> tuple[list[str], list[WriteOutcome]]:
        # The marks first: a record written after them is stored restricted, so none
        # written while the flags are set slips through. One written while the person
        # was being found met no mark and no lookup: found again now, it is marked too.
        reference = current_call().request_id
        await storage.mark("restricted", keys, digests, reference=reference, at=at)
        every = (await subjects.again(message, resolved)).keys
        if late := sorted(set(every) - set(keys)):
            await storage.mark("restricted", late, [], reference=reference, at=at)
        return every, await storage.set_restricted(every, True) if every else []

    applied = await _audited(subjects.gate, "restrict", message, resolved, act())
    return RestrictSubjectResponse(modified_values=applied, at=at)


async def unrestrict(subjects: Subjects, message: SubjectRequest) -> RestrictSubjectResponse:
    resolved = await subjects.resolve(message, "unrestrict")
    at = datetime.now(UTC)
    storage = subjects.storage
    keys = resolved.keys
    # The marks of the values the records hold go too, however the person was named:
    # lifted by pseudonym, a restriction placed by value would otherwise come back on
    # the pair's next write.
    digests = list(resolved.digests)
    for record in resolved.records.values():
        digest = await stored(storage.value_digest(record.original_value))
        if digest is not None and digest not in digests:
            digests.append(digest)

    async def act() -> tuple[list[str], list[WriteOutcome]]:
        # The marks first, else a write between the two would land restricted again; then
        # the person found again, for a record written restricted while they were found.
        # Recomputed pseudonyms that read as not stored too: a record that expired while
        # restricted keeps its mark, which its pair, written again, would meet.
        await storage.unmark("restricted", [*keys, *resolved.unstored_recomputed], digests)
        every = (await subjects.again(message, resolved)).keys
        if late := sorted(set(every) - set(keys)):
            await storage.unmark("restricted", late, [])
        return every, await storage.set_restricted(every, False) if every else []

    applied = await _audited(subjects.gate, "unrestrict", message, resolved, act())
    return RestrictSubjectResponse(modified_values=applied, at=at)


async def _audited(
    gate: Gatekeeper,
    operation: Operation,
    message: SubjectRequest,
    resolved: Resolved,
    act: Awaitable[tuple[list[str], list[WriteOutcome]]],
) -> list[str]:
    """Await ``act`` and record what it did to each key it answers; UNAVAILABLE, recorded
    with every key UNAVAILABLE, if storage failed, or with each key's own code if some
    keys failed. Answers the keys it applied to."""
    basis, purpose, keys = message.lawful_basis, message.purpose, resolved.keys
    unavailable = Status.UNAVAILABLE
    try:
        keys, outcomes = await stored(act)
    except GRPCError:
        # The storage error goes on whether or not its event can be stored.
        with contextlib.suppress(GRPCError):
            await gate.record(
                operation,
                unavailable,
                [KeyOutcome(k, unavailable.value) for k in keys],
                basis=basis,
                purpose=purpose,
            )
        raise
    codes = [Status.OK.value if o is None else unavailable.value for o in outcomes]
    failed = sum(code != Status.OK.value for code in codes)
    code = unavailable if failed else Status.OK
    await gate.record(
        operation,
        code,
        [KeyOutcome(k, c) for k, c in zip(keys, codes, strict=True)],
        basis=basis,
        purpose=purpose,
    )
    if failed:
        raise GRPCError(
            unavailable, f"{failed} of {len(keys)} records could not be {operation}ed: retry"
        )
    return keys
