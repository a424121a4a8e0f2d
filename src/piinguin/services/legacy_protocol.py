"""The original piinguin's protocol (``--legacy-api``), under a stable import path.

The modules under ``piinguin._generated`` are written by ``make proto``; import from here.
"""

from piinguin._generated.com.snowplowanalytics.piinguin.server.generated.protocols import (
    ChangeRecordResponse,
    CreatePiiRecordRequest,
    DeletePiiRecordRequest,
    PiinguinBase,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    Status,
)
from piinguin._generated.com.snowplowanalytics.piinguin.server.generated.protocols import (
    ReadPiiRecordRequestLawfulBasisForProcessing as LawfulBasisForProcessing,
)

SERVICE_NAME = "com.snowplowanalytics.piinguin.server.generated.protocols.Piinguin"

__all__ = [
    "SERVICE_NAME",
    "ChangeRecordResponse",
    "CreatePiiRecordRequest",
    "DeletePiiRecordRequest",
    "LawfulBasisForProcessing",
    "PiiRecord",
    "PiinguinBase",
    "PiinguinStub",
    "ReadPiiRecordRequest",
    "ReadPiiRecordResponse",
    "Status",
]
