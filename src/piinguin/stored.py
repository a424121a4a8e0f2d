"""Storage errors at the gRPC boundary: one translation for every service and store, the
records' and the audit log's alike."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from storage import StorageError, StorageMisconfigured

log = structlog.get_logger("piinguin.stored")

T = TypeVar("T")


def storage_failure(exc: StorageError, *, store: str, **context: Any) -> GRPCError:
    """The gRPC error for a store's call-level error, logged (with ``context``) once, here;
    ``store`` names it in the caller's message ("storage", "the audit log"). Raise it
    ``from exc``. The store's own message is ours (see ``storage.errors``), yet only the
    log line carries it: the caller learns which store failed, not how."""
    if isinstance(exc, StorageMisconfigured):
        log.error("storage_misconfigured", store=store, error=str(exc), **context)
        return GRPCError(Status.UNAVAILABLE, f"{store} is not usable as configured")
    log.warning("storage_unavailable", store=store, error=str(exc), **context)
    return GRPCError(Status.UNAVAILABLE, f"{store} is unavailable")


async def stored(call: Awaitable[T], *, store: str = "storage") -> T:
    """What ``call`` returns, its ``StorageError`` translated by ``storage_failure``.
    (A try, not a generator context manager: that costs microseconds, every RPC.)"""
    try:
        return await call
    except StorageError as exc:
        raise storage_failure(exc, store=store) from exc
