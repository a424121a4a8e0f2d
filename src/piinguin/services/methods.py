"""What each record RPC does, for both services: the original protocol's methods carry the
same names as v1's. The call tracker reads these to audit a call refused before its
handler runs (no valid credential) and to measure the items of bulk calls; a handler names
its operation to the gatekeeper itself."""

from __future__ import annotations

from collections.abc import Mapping

from piinguin.access.policy import Operation

_RECORD_OPERATIONS: Mapping[str, Operation] = {
    "CreatePiiRecord": "write",
    "CreatePiiRecords": "write",
    "ReadPiiRecord": "read",
    "ReadPiiRecords": "read",
    "DeletePiiRecord": "delete",
    "DeletePiiRecords": "delete",
}
_BULK = ("CreatePiiRecords", "ReadPiiRecords", "DeletePiiRecords")


def record_operations(service: str) -> dict[str, Operation]:
    """Each record method of ``service`` (its full name) by path, and what it does."""
    return {f"/{service}/{method}": operation for method, operation in _RECORD_OPERATIONS.items()}


def bulk_methods(service: str) -> frozenset[str]:
    """The paths of ``service``'s methods that carry many items."""
    return frozenset(f"/{service}/{method}" for method in _BULK)
