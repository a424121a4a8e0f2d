"""Storage errors at the gRPC boundary: one translation for every service and store."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import structlog
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from storage import StorageMisconfigured, StorageUnavailable

log = structlog.get_logger("piinguin.services.vault")

T = TypeVar("T")


async def stored(call: Awaitable[T], *, store: str = "storage") -> T:
    """Translate a store's call-level errors into gRPC status, once, at this boundary;
    ``store`` names it in the caller's message ("storage", "the audit log").
    (A try, not a generator context manager: that costs microseconds, every RPC.)"""
    try:
        return await call
    except StorageMisconfigured as exc:
        log.error("storage_misconfigured", store=store, error=str(exc))
        raise GRPCError(Status.UNAVAILABLE, f"{store} is not usable as configured") from exc
    except StorageUnavailable as exc:
        log.warning("storage_unavailable", store=store, error=str(exc))
        raise GRPCError(Status.UNAVAILABLE, f"{store} is unavailable") from exc
