"""The ``piinguin.v1.Piinguin`` service: validation, storage calls, per-item results."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import structlog
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.calls import count_items
from piinguin.convert import message_from_record, record_from_message
from piinguin.v1 import (
    CreatePiiRecordRequest,
    CreatePiiRecordResponse,
    CreatePiiRecordsRequest,
    CreatePiiRecordsResponse,
    DeletePiiRecordRequest,
    DeletePiiRecordResponse,
    DeletePiiRecordsRequest,
    DeletePiiRecordsResponse,
    ItemStatus,
    PiinguinBase,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
)
from piinguin.validation import justification_problem, key_problem, record_problem
from storage import ItemFailed, Record, Storage, StorageMisconfigured, StorageUnavailable

log = structlog.get_logger("piinguin.service")

T = TypeVar("T")

_OK = ItemStatus()
_NOT_FOUND_MESSAGE = "no record is stored under this key"


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Translate storage's call-level errors into gRPC status, once, at this boundary."""
    try:
        yield
    except StorageMisconfigured as exc:
        log.error("storage_misconfigured", error=str(exc))
        raise GRPCError(Status.UNAVAILABLE, "storage is not usable as configured") from exc
    except StorageUnavailable as exc:
        log.warning("storage_unavailable", error=str(exc))
        raise GRPCError(Status.UNAVAILABLE, "storage is unavailable") from exc


def _invalid(message: str) -> GRPCError:
    return GRPCError(Status.INVALID_ARGUMENT, message)


def _item(code: Status, message: str) -> ItemStatus:
    return ItemStatus(code=code.value, message=message)


def _failed(outcome: ItemFailed) -> ItemStatus:
    return _item(Status.UNAVAILABLE, outcome.reason)


class PiinguinService(PiinguinBase):
    def __init__(self, storage: Storage, *, max_bulk_items: int) -> None:
        self._storage = storage
        self._max_bulk_items = max_bulk_items

    async def _store(self, call: Awaitable[T]) -> T:
        with _storage_errors():
            return await call

    def _check_bulk_size(self, count: int) -> None:
        count_items(count)
        if count > self._max_bulk_items:
            raise _invalid(f"too many items: {count} > {self._max_bulk_items} per call")

    # -- single records: the one-item case of the bulk operations ---------------------

    async def create_pii_record(self, message: CreatePiiRecordRequest) -> CreatePiiRecordResponse:
        count_items(1)
        if message.record is None:
            raise _invalid("record is required")
        problem = record_problem(message.record)
        if problem is not None:
            raise _invalid(problem)
        [outcome] = await self._store(self._storage.put_many([record_from_message(message.record)]))
        if outcome is not None:
            raise GRPCError(Status.UNAVAILABLE, outcome.reason)
        return CreatePiiRecordResponse()

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        count_items(1)
        problem = justification_problem(message.lawful_basis, message.purpose) or key_problem(
            message.modified_value
        )
        if problem is not None:
            raise _invalid(problem)
        [outcome] = await self._store(self._storage.get_many([message.modified_value]))
        if outcome is None:
            raise GRPCError(Status.NOT_FOUND, _NOT_FOUND_MESSAGE)
        if isinstance(outcome, ItemFailed):
            raise GRPCError(Status.UNAVAILABLE, outcome.reason)
        return ReadPiiRecordResponse(record=message_from_record(outcome))

    async def delete_pii_record(self, message: DeletePiiRecordRequest) -> DeletePiiRecordResponse:
        count_items(1)
        problem = key_problem(message.modified_value)
        if problem is not None:
            raise _invalid(problem)
        [outcome] = await self._store(self._storage.delete_many([message.modified_value]))
        if outcome is not None:
            raise GRPCError(Status.UNAVAILABLE, outcome.reason)
        return DeletePiiRecordResponse()

    # -- bulk: one result per item, in request order ------------------------------------

    async def create_pii_records(
        self, message: CreatePiiRecordsRequest
    ) -> CreatePiiRecordsResponse:
        self._check_bulk_size(len(message.records))
        results: list[ItemStatus] = [_OK] * len(message.records)
        positions: list[int] = []
        records: list[Record] = []
        for i, item in enumerate(message.records):
            problem = record_problem(item)
            if problem is None:
                positions.append(i)
                records.append(record_from_message(item))
            else:
                results[i] = _item(Status.INVALID_ARGUMENT, f"records[{i}]: {problem}")
        if records:
            outcomes = await self._store(self._storage.put_many(records))
            for i, outcome in zip(positions, outcomes, strict=True):
                if outcome is not None:
                    results[i] = _failed(outcome)
        return CreatePiiRecordsResponse(results=results)

    async def read_pii_records(self, message: ReadPiiRecordsRequest) -> ReadPiiRecordsResponse:
        keys = message.modified_values
        self._check_bulk_size(len(keys))
        problem = justification_problem(message.lawful_basis, message.purpose)
        if problem is not None:
            raise _invalid(problem)
        results: list[ReadResult] = [ReadResult()] * len(keys)
        positions, valid, rejected = _split_keys(keys)
        for i, problem in rejected:
            results[i] = ReadResult(status=_item(Status.INVALID_ARGUMENT, problem))
        if valid:
            outcomes = await self._store(self._storage.get_many(valid))
            for i, outcome in zip(positions, outcomes, strict=True):
                results[i] = _read_result(outcome)
        return ReadPiiRecordsResponse(results=results)

    async def delete_pii_records(
        self, message: DeletePiiRecordsRequest
    ) -> DeletePiiRecordsResponse:
        keys = message.modified_values
        self._check_bulk_size(len(keys))
        results: list[ItemStatus] = [_OK] * len(keys)
        positions, valid, rejected = _split_keys(keys)
        for i, problem in rejected:
            results[i] = _item(Status.INVALID_ARGUMENT, problem)
        if valid:
            outcomes = await self._store(self._storage.delete_many(valid))
            for i, outcome in zip(positions, outcomes, strict=True):
                if outcome is not None:
                    results[i] = _failed(outcome)
        return DeletePiiRecordsResponse(results=results)


def _split_keys(keys: Sequence[str]) -> tuple[list[int], list[str], list[tuple[int, str]]]:
    """Positions and keys that pass validation, and (position, problem) for those that don't."""
    positions: list[int] = []
    valid: list[str] = []
    rejected: list[tuple[int, str]] = []
    for i, key in enumerate(keys):
        problem = key_problem(key)
        if problem is None:
            positions.append(i)
            valid.append(key)
        else:
            rejected.append((i, f"modified_values[{i}]: {problem}"))
    return positions, valid, rejected


def _read_result(outcome: Record | ItemFailed | None) -> ReadResult:
    if outcome is None:
        return ReadResult(status=_item(Status.NOT_FOUND, _NOT_FOUND_MESSAGE))
    if isinstance(outcome, ItemFailed):
        return ReadResult(status=_failed(outcome))
    return ReadResult(status=_OK, record=message_from_record(outcome))
