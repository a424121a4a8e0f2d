"""RestrictSubject and UnrestrictSubject (GDPR Art. 18)."""

from __future__ import annotations

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.services.subjects import Subjects
from piinguin.v1 import RestrictSubjectResponse, SubjectRequest

# Filled in by issue #16's restriction work; until then the RPCs answer UNIMPLEMENTED.


async def restrict(subjects: Subjects, message: SubjectRequest) -> RestrictSubjectResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "restrict is not built yet")


async def unrestrict(subjects: Subjects, message: SubjectRequest) -> RestrictSubjectResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "unrestrict is not built yet")
