"""An audit store's failure becomes a gRPC status as a records store's does: one mapping."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.auditing import AUDIT_LOG, Auditor
from piinguin.stored import stored
from storage import StorageError, StorageMisconfigured, StorageUnavailable
from tests.doubles import FailingAuditStore


async def failing(error: type[StorageError]) -> None:
    raise error("audit table unreachable")


@pytest.mark.parametrize(
    ("error", "message", "level"),
    [
        (StorageUnavailable, "the audit log is unavailable", "warning"),
        (StorageMisconfigured, "the audit log is not usable as configured", "error"),
    ],
)
async def test_an_audit_store_failure_is_translated_as_any_store_failure(
    error: type[StorageError], message: str, level: str, log_output: Callable[[], str]
) -> None:
    auditor = Auditor(FailingAuditStore(error))
    event = auditor.event(operation="read", principal="p", method="/m", code=Status.OK)

    with pytest.raises(GRPCError) as audit:
        await auditor.record(event)
    with pytest.raises(GRPCError) as records:
        await stored(failing(error), store=AUDIT_LOG)

    assert (audit.value.status, audit.value.message) == (Status.UNAVAILABLE, message)
    assert (records.value.status, records.value.message) == (Status.UNAVAILABLE, message)
    lines = [json.loads(line) for line in log_output().splitlines()]
    [lost, listed] = [line for line in lines if line.get("store") == AUDIT_LOG]
    assert (lost["level"], lost["event_id"]) == (level, event.event_id)
    assert listed["level"] == level
