"""The ``piinguin.v1`` protocol's messages and stubs, under a stable import path.

The modules under ``piinguin._generated`` are written by ``make proto``; import from here.
"""

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
)

SERVICE_NAME = "piinguin.v1.Piinguin"

__all__ = [
    "DESCRIPTOR_POOL",
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
]
