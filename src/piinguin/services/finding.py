"""FindSubject and ExportSubject (GDPR Art. 15)."""

from __future__ import annotations

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.services.subjects import Subjects
from piinguin.v1 import ExportSubjectResponse, FindSubjectResponse, SubjectRequest

# Filled in by issue #16's find/export work; until then the RPCs answer UNIMPLEMENTED.


async def find(subjects: Subjects, message: SubjectRequest) -> FindSubjectResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "find is not built yet")


async def export(subjects: Subjects, message: SubjectRequest) -> ExportSubjectResponse:
    raise GRPCError(Status.UNIMPLEMENTED, "export is not built yet")
