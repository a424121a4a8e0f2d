"""The async Python client library: ``PiinguinClient`` and the errors it raises."""

from piinguin.client._client import (
    DeadlineExceeded,
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
    parse_target,
)

__all__ = [
    "DeadlineExceeded",
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
    "parse_target",
]
