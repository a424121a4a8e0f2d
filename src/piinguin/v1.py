"""The ``piinguin.v1`` protocol's messages and stubs, under a stable import path.

The modules under ``piinguin._generated`` are written by ``make proto``; import from here.
"""

from collections.abc import Mapping

from piinguin._generated.google_proto_descriptor_pool import (
    default_google_proto_descriptor_pool as DESCRIPTOR_POOL,
)
from piinguin._generated.piinguin.v1 import (
    AuditEvent,
    AuditKey,
    CreatePiiRecordRequest,
    CreatePiiRecordResponse,
    CreatePiiRecordsRequest,
    CreatePiiRecordsResponse,
    DeletePiiRecordRequest,
    DeletePiiRecordResponse,
    DeletePiiRecordsRequest,
    DeletePiiRecordsResponse,
    EraseSubjectResponse,
    ExportSubjectResponse,
    FindSubjectResponse,
    GetReceiptKeysRequest,
    GetReceiptKeysResponse,
    ItemStatus,
    LawfulBasis,
    ListAuditEventsRequest,
    ListAuditEventsResponse,
    PiinguinBase,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
    ReceiptKey,
    RestrictionGround,
    RestrictSubjectResponse,
    SubjectRecord,
    SubjectRequest,
    SubjectValue,
)

SERVICE_NAME = "piinguin.v1.Piinguin"
#: The bases a read can claim, by lowercase name (``legal_obligation``); every table of
#: bases (the policy file's, the CLI's, validation's, the legacy API's) is this one.
LAWFUL_BASES: Mapping[str, LawfulBasis] = {
    basis.name.lower(): basis for basis in LawfulBasis if basis != LawfulBasis.UNSPECIFIED
}

#: The numbers of the bases a read may claim.
KNOWN_BASES = frozenset(int(basis) for basis in LAWFUL_BASES.values())

#: ``consent``, ``legitimate_interests``, ... by number: how the audit log and the CLI name
#: a lawful basis (``unspecified`` where none was given: writes, deletes, listings).
BASIS_NAMES = {basis.value: basis.name.lower() for basis in LawfulBasis}


#: The Art. 18(2) grounds a read of a restricted record can state, by lowercase name
#: (``legal_claims``); the CLI's and the audit log's names.
RESTRICTION_GROUNDS: Mapping[str, RestrictionGround] = {
    ground.name.lower(): ground
    for ground in RestrictionGround
    if ground != RestrictionGround.UNSPECIFIED
}
GROUND_NAMES = {ground.value: ground.name.lower() for ground in RestrictionGround}


def ground_name(value: int) -> str:
    """The name of a restriction ground; the number itself for one this version does not know."""
    return GROUND_NAMES.get(value) or str(value)


def basis_name(value: int) -> str:
    """The name of a lawful basis; the number itself for one this version does not know."""
    return BASIS_NAMES.get(value) or str(value)


__all__ = [
    "BASIS_NAMES",
    "DESCRIPTOR_POOL",
    "GROUND_NAMES",
    "KNOWN_BASES",
    "LAWFUL_BASES",
    "RESTRICTION_GROUNDS",
    "SERVICE_NAME",
    "AuditEvent",
    "AuditKey",
    "CreatePiiRecordRequest",
    "CreatePiiRecordResponse",
    "CreatePiiRecordsRequest",
    "CreatePiiRecordsResponse",
    "DeletePiiRecordRequest",
    "DeletePiiRecordResponse",
    "DeletePiiRecordsRequest",
    "DeletePiiRecordsResponse",
    "EraseSubjectResponse",
    "ExportSubjectResponse",
    "FindSubjectResponse",
    "GetReceiptKeysRequest",
    "GetReceiptKeysResponse",
    "ItemStatus",
    "LawfulBasis",
    "ListAuditEventsRequest",
    "ListAuditEventsResponse",
    "PiiRecord",
    "PiinguinBase",
    "PiinguinStub",
    "ReadPiiRecordRequest",
    "ReadPiiRecordResponse",
    "ReadPiiRecordsRequest",
    "ReadPiiRecordsResponse",
    "ReadResult",
    "ReceiptKey",
    "RestrictSubjectResponse",
    "RestrictionGround",
    "SubjectRecord",
    "SubjectRequest",
    "SubjectValue",
    "basis_name",
    "ground_name",
]
