"""EraseSubject (GDPR Art. 17) and GetReceiptKeys."""

from __future__ import annotations

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.services.subjects import Subjects
from piinguin.v1 import (
    EraseSubjectResponse,
    GetReceiptKeysRequest,
    GetReceiptKeysResponse,
    SubjectRequest,
)

# Filled in by issue #16's erasure work; until then the RPCs answer UNIMPLEMENTED.


async def erase(subjects: Subjects, message: SubjectRequest) -> EraseSubjectResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "erase is not built yet")


async def receipt_keys(
    subjects: Subjects, message: GetReceiptKeysRequest
) -> GetReceiptKeysResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "receipt_keys is not built yet")
