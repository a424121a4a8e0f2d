"""The async Python client library: ``PiinguinClient`` and the errors it raises."""

from piinguin.client._client import (
    DeadlineExceeded,
    ErasureReceipt,
    FoundSubject,
    InvalidArgument,
    ItemResult,
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiinguinError,
    PiiRecord,
    ReadItemResult,
    RecordNotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Value,
    parse_target,
)
from piinguin.client.errors import Erased

__all__ = [
    "DeadlineExceeded",
    "Erased",
    "ErasureReceipt",
    "FoundSubject",
    "InvalidArgument",
    "ItemResult",
    "LawfulBasis",
    "PermissionDenied",
    "PiiRecord",
    "PiinguinClient",
    "PiinguinError",
    "ReadItemResult",
    "RecordNotFound",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Value",
    "parse_target",
]
