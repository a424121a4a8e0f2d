"""EraseSubject (GDPR Art. 17) and GetReceiptKeys.

An erasure tombstones first and deletes second: the pseudonyms and the values' marker
digests are marked ``erased`` (durable when ``mark`` returns), then the records are
deleted, which crypto-shreds a sealed one (its pad goes with it). A write racing the
erasure therefore meets the tombstone and is refused (``storage.ERASED``) rather than
stored after the delete. A delete that fails for now fails the call as UNAVAILABLE once
the tombstones stand; erasing again finishes the job, and answers a new receipt.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.context import current_call
from piinguin.options import version
from piinguin.receipts import SignedReceipt
from piinguin.services.subjects import Resolved, Subjects
from piinguin.stored import stored
from piinguin.v1 import (
    EraseSubjectResponse,
    GetReceiptKeysRequest,
    GetReceiptKeysResponse,
    ReceiptKey,
    SubjectRequest,
    basis_name,
)
from storage import WriteOutcome
from storage.audit import KeyOutcome

#: The receipt's ``format``: bump it when a field changes meaning.
RECEIPT_FORMAT = "piinguin.erasure-receipt/1"

NOTHING_TO_ERASE = (
    "nothing to erase: no pseudonym was named or found, and without encryption at rest "
    "(--insecure-no-encryption) the server cannot tombstone a value; name the pseudonyms"
)


async def erase(subjects: Subjects, message: SubjectRequest) -> EraseSubjectResponse:
    resolved = await subjects.resolve(message, "erase")
    keys = resolved.keys
    if not keys and not resolved.digests:
        raise GRPCError(Status.FAILED_PRECONDITION, NOTHING_TO_ERASE)
    receipt_id = str(uuid.uuid4())
    at = datetime.now(UTC)
    gate, storage = subjects.gate, subjects.storage
    basis, purpose = message.lawful_basis, message.purpose
    unknown = Status.UNAVAILABLE
    try:
        await stored(storage.mark("erased", keys, resolved.digests, reference=receipt_id, at=at))
        # A record written while the person was being found met no tombstone and no
        # lookup: found again now that the tombstones stand, it is tombstoned and erased.
        resolved = await subjects.again(message, resolved)
        if late := sorted(set(resolved.keys) - set(keys)):
            await stored(storage.mark("erased", late, [], reference=receipt_id, at=at))
            keys = resolved.keys
        outcomes = await stored(storage.delete_many(keys)) if keys else []
        # A record past its expiry reads as not stored, yet DynamoDB keeps it, and its pad,
        # until its TTL runs: the candidates that read so are deleted as well (for another
        # person's, an index collision, that is a record already expired).
        remnants = [*resolved.unstored_recomputed, *resolved.unstored_indexed]
        leftovers = await stored(storage.delete_many(remnants)) if remnants else []
    except BaseException:
        # Some tombstones or deletes may have happened: recorded, each key's outcome
        # unknown, before the error goes on (as ``Gatekeeper.delete`` does).
        await gate.record_deletion(
            unknown,
            [KeyOutcome(k, unknown.value) for k in keys],
            operation="erase",
            basis=basis,
            purpose=purpose,
        )
        raise
    failed = sum(1 for outcome in [*outcomes, *leftovers] if outcome is not None)
    await gate.record_deletion(
        unknown if failed else Status.OK,
        _key_outcomes(keys, outcomes, resolved),
        operation="erase",
        basis=basis,
        purpose=purpose,
    )
    if failed:
        raise GRPCError(
            Status.UNAVAILABLE,
            f"{failed} of {len(keys) + len(leftovers)} records could not be deleted for now;"
            " their tombstones"
            " stand, so nothing is written under them again: erase again to finish",
        )
    signed = subjects.signer.sign(_receipt(receipt_id, at, message, resolved))
    return _response(signed, keys)


def _key_outcomes(
    keys: Sequence[str], outcomes: Sequence[WriteOutcome], resolved: Resolved
) -> list[KeyOutcome]:
    """OK for a record erased, NOT_FOUND for a pseudonym tombstoned that held none,
    UNAVAILABLE for a delete that failed."""
    return [
        KeyOutcome(
            key,
            Status.UNAVAILABLE.value
            if outcome is not None
            else (Status.OK if key in resolved.records else Status.NOT_FOUND).value,
        )
        for key, outcome in zip(keys, outcomes, strict=True)
    ]


def _receipt(
    receipt_id: str, at: datetime, message: SubjectRequest, resolved: Resolved
) -> dict[str, object]:
    """What was erased, when, by whom and why: pseudonyms and counts, never a value nor
    a digest of one (a digest would let its holder test guesses against the receipt)."""
    context = current_call()
    return {
        "format": RECEIPT_FORMAT,
        "receipt_id": receipt_id,
        "erased_at": at.isoformat().replace("+00:00", "Z"),
        "principal": context.caller.principal if context.caller else "",
        "lawful_basis": basis_name(message.lawful_basis),
        "purpose": message.purpose,
        "request_id": context.request_id,
        "pseudonyms": resolved.keys,
        "records_erased": len(resolved.records),
        "value_tombstones": len(resolved.digests),
        "complete": resolved.complete,
        "server_version": version(),
    }


def _response(signed: SignedReceipt, keys: list[str]) -> EraseSubjectResponse:
    return EraseSubjectResponse(
        receipt=signed.receipt,
        signature=signed.signature,
        key_id=signed.key_id,
        modified_values=keys,
    )


async def receipt_keys(
    subjects: Subjects, message: GetReceiptKeysRequest
) -> GetReceiptKeysResponse:
    # Public keys, as the proto says: any authenticated caller, no grant needed, since
    # whoever holds a receipt must be able to check it.
    subjects.gate.caller()
    signer = subjects.signer
    return GetReceiptKeysResponse(
        keys=[ReceiptKey(key_id=signer.key_id, public_key_pem=signer.public_key_pem)]
    )
