"""The ``piinguin.v1.Piinguin`` service: validation, access, storage calls, per-item results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, NoReturn

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.access.context import count_items
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Operation
from piinguin.receipts import ReceiptSigner
from piinguin.services import erasure, finding, methods, restriction
from piinguin.services.audit_api import list_audit_events
from piinguin.services.convert import message_from_record, record_from_message
from piinguin.services.subjects import SaltEpoch, Subjects
from piinguin.services.validation import (
    invalid_argument,
    justification_problem,
    key_problem,
    record_problem,
)
from piinguin.stored import stored
from piinguin.v1 import (
    SERVICE_NAME,
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
    ListAuditEventsRequest,
    ListAuditEventsResponse,
    PiinguinBase,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    ReadPiiRecordsRequest,
    ReadPiiRecordsResponse,
    ReadResult,
    RestrictSubjectResponse,
    SubjectRequest,
)
from storage import (
    ItemFailed,
    ReadOutcome,
    Record,
    SubjectStorage,
    WriteOutcome,
)
from storage.audit import KeyOutcome

_OK = ItemStatus()
_FOUND = Status.OK.value
_REFUSED = restriction.RESTRICTED.value
_RESTRICTED = ItemStatus(code=_REFUSED, message=restriction.RESTRICTED_MESSAGE)
NOT_FOUND_MESSAGE = "no record is stored under this key"


def _item(code: Status, message: str) -> ItemStatus:
    return ItemStatus(code=code.value, message=message)


def failure_code(failure: ItemFailed) -> Status:
    """FAILED_PRECONDITION for a write refused because its subject was erased
    (``storage.ERASED``: never worth another try, and not a fault), DATA_LOSS for a stored
    item that cannot be used however often it is read (tampered with, its key unknown or
    erased), UNAVAILABLE for one worth another try."""
    if failure.erased:
        return Status.FAILED_PRECONDITION
    return Status.DATA_LOSS if failure.damaged else Status.UNAVAILABLE


def read_code(outcome: ReadOutcome) -> Status:
    if outcome is None:
        return Status.NOT_FOUND
    return failure_code(outcome) if isinstance(outcome, ItemFailed) else Status.OK


def _write_status(outcome: WriteOutcome) -> ItemStatus:
    if outcome is None:
        return _OK
    return _item(
        Status.FAILED_PRECONDITION if outcome.erased else Status.UNAVAILABLE, outcome.reason
    )


def _read_result(outcome: ReadOutcome, grounded: int) -> ReadResult:
    if outcome is None:
        return ReadResult(status=_item(Status.NOT_FOUND, NOT_FOUND_MESSAGE))
    if isinstance(outcome, ItemFailed):
        return ReadResult(status=_item(failure_code(outcome), outcome.reason))
    if outcome.restricted and not grounded:
        return ReadResult(status=_RESTRICTED)
    # Positional (status, record): this runs for every record of a bulk read.
    return ReadResult(_OK, message_from_record(outcome))


def _raise_for(outcome: ReadOutcome | WriteOutcome) -> NoReturn:
    if outcome is None:
        raise GRPCError(Status.NOT_FOUND, NOT_FOUND_MESSAGE)
    if isinstance(outcome, ItemFailed):
        raise GRPCError(failure_code(outcome), outcome.reason)
    raise AssertionError("a record is not an error")


def split_keys(keys: Sequence[str]) -> tuple[list[int], list[str], list[tuple[int, str]]]:
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


class PiinguinService(PiinguinBase):
    #: See ``piinguin.services.methods``; the audit API is v1's alone.
    operations: ClassVar[Mapping[str, Operation]] = {
        **methods.record_operations(SERVICE_NAME),
        f"/{SERVICE_NAME}/ListAuditEvents": "audit",
        f"/{SERVICE_NAME}/FindSubject": "find",
        f"/{SERVICE_NAME}/ExportSubject": "export",
        f"/{SERVICE_NAME}/EraseSubject": "erase",
        f"/{SERVICE_NAME}/RestrictSubject": "restrict",
        f"/{SERVICE_NAME}/UnrestrictSubject": "unrestrict",
        # Public keys, for those who check receipts: any authenticated caller gets them
        # (``erasure.receipt_keys``); counted with the audit calls.
        f"/{SERVICE_NAME}/GetReceiptKeys": "audit",
    }
    bulk_methods: ClassVar[frozenset[str]] = methods.bulk_methods(SERVICE_NAME)

    def __init__(
        self,
        storage: SubjectStorage,
        gate: Gatekeeper,
        *,
        max_bulk_items: int,
        salts: Sequence[SaltEpoch] = (),
        signer: ReceiptSigner | None = None,
    ) -> None:
        self._storage = storage
        self._gate = gate
        self._max_bulk_items = max_bulk_items
        self.subjects = Subjects(
            storage, gate, max_bulk_items=max_bulk_items, salts=salts, signer=signer
        )

    def _check_bulk_size(self, count: int) -> None:
        count_items(count)
        if count > self._max_bulk_items:
            raise invalid_argument(f"too many items: {count} > {self._max_bulk_items} per call")

    async def _delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        return await stored(self._storage.delete_many(keys)) if keys else []

    async def _justified_read(
        self, basis: int, purpose: str, keys: Sequence[str], ground: int
    ) -> None:
        problem = justification_problem(basis, purpose)
        if problem is None and ground:
            problem = restriction.ground_problem(ground)
        if problem is not None:
            raise invalid_argument(problem)
        await self._gate.require_read(basis, purpose, keys, ground=ground)
        if ground:
            # Before storage is read: a caller who may not reach restricted records
            # learns nothing of which records are.
            await self._gate.require_restricted_read(basis, purpose, keys, ground=ground)

    # -- single records: the one-item case of the bulk operations ---------------------

    async def create_pii_record(self, message: CreatePiiRecordRequest) -> CreatePiiRecordResponse:
        count_items(1)
        record = message.record
        await self._gate.require("write", [record.modified_value] if record else [])
        if record is None:
            raise invalid_argument("record is required")
        problem = record_problem(record)
        if problem is not None:
            raise invalid_argument(problem)
        [outcome] = await stored(self._storage.put_many([record_from_message(record)]))
        if outcome is not None:
            _raise_for(outcome)
        return CreatePiiRecordResponse()

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        count_items(1)
        key, basis, purpose = message.modified_value, message.lawful_basis, message.purpose
        ground = message.restriction_ground
        await self._justified_read(basis, purpose, [key], ground)
        problem = key_problem(key)
        if problem is not None:
            raise invalid_argument(problem)
        [outcome] = await stored(self._storage.get_many([key]))
        refused = isinstance(outcome, Record) and outcome.restricted and not ground
        code = restriction.RESTRICTED if refused else read_code(outcome)
        await self._gate.record(
            "read", code, [KeyOutcome(key, code.value)], basis=basis, purpose=purpose, ground=ground
        )
        if refused:
            raise GRPCError(code, restriction.RESTRICTED_MESSAGE)
        if isinstance(outcome, Record):
            return ReadPiiRecordResponse(record=message_from_record(outcome))
        _raise_for(outcome)

    async def delete_pii_record(self, message: DeletePiiRecordRequest) -> DeletePiiRecordResponse:
        count_items(1)
        key = message.modified_value
        await self._gate.require("delete", [key])
        problem = key_problem(key)
        if problem is not None:
            raise invalid_argument(problem)
        [outcome] = await self._gate.delete([key], self._delete_many([key]), per_item=False)
        if outcome is not None:
            _raise_for(outcome)
        return DeletePiiRecordResponse()

    # -- bulk: one result per item, in request order ------------------------------------

    async def create_pii_records(
        self, message: CreatePiiRecordsRequest
    ) -> CreatePiiRecordsResponse:
        self._check_bulk_size(len(message.records))
        await self._gate.require("write", [r.modified_value for r in message.records])
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
            outcomes = await stored(self._storage.put_many(records))
            for i, outcome in zip(positions, outcomes, strict=True):
                if outcome is not None:
                    results[i] = _write_status(outcome)
        return CreatePiiRecordsResponse(results=results)

    async def read_pii_records(self, message: ReadPiiRecordsRequest) -> ReadPiiRecordsResponse:
        keys, basis, purpose = message.modified_values, message.lawful_basis, message.purpose
        ground = message.restriction_ground
        self._check_bulk_size(len(keys))
        await self._justified_read(basis, purpose, keys, ground)
        results: list[ReadResult] = [ReadResult()] * len(keys)
        positions, valid, rejected = split_keys(keys)
        for i, problem in rejected:
            results[i] = ReadResult(status=_item(Status.INVALID_ARGUMENT, problem))
        outcomes = await stored(self._storage.get_many(valid)) if valid else []
        await self._gate.record(
            "read",
            Status.OK,
            [
                # Inline, not a function: this runs for every key of a bulk read.
                KeyOutcome(
                    k,
                    (_REFUSED if o.restricted and not ground else _FOUND)
                    if isinstance(o, Record)
                    else read_code(o).value,
                )
                for k, o in zip(valid, outcomes, strict=True)
            ],
            basis=basis,
            purpose=purpose,
            ground=ground,
        )
        for i, outcome in zip(positions, outcomes, strict=True):
            results[i] = _read_result(outcome, ground)
        return ReadPiiRecordsResponse(results=results)

    async def delete_pii_records(
        self, message: DeletePiiRecordsRequest
    ) -> DeletePiiRecordsResponse:
        keys = message.modified_values
        self._check_bulk_size(len(keys))
        await self._gate.require("delete", keys)
        results: list[ItemStatus] = [_OK] * len(keys)
        positions, valid, rejected = split_keys(keys)
        for i, problem in rejected:
            results[i] = _item(Status.INVALID_ARGUMENT, problem)
        outcomes = await self._gate.delete(valid, self._delete_many(valid))
        for i, outcome in zip(positions, outcomes, strict=True):
            results[i] = _write_status(outcome)
        return DeletePiiRecordsResponse(results=results)

    # -- audit ---------------------------------------------------------------------------

    async def list_audit_events(self, message: ListAuditEventsRequest) -> ListAuditEventsResponse:
        return await list_audit_events(self._gate, message)

    # -- data-subject rights (piinguin.services.subjects) -----------------------------

    async def find_subject(self, message: SubjectRequest) -> FindSubjectResponse:
        return await finding.find(self.subjects, message)

    async def export_subject(self, message: SubjectRequest) -> ExportSubjectResponse:
        return await finding.export(self.subjects, message)

    async def erase_subject(self, message: SubjectRequest) -> EraseSubjectResponse:
        return await erasure.erase(self.subjects, message)

    async def restrict_subject(self, message: SubjectRequest) -> RestrictSubjectResponse:
        return await restriction.restrict(self.subjects, message)

    async def unrestrict_subject(self, message: SubjectRequest) -> RestrictSubjectResponse:
        return await restriction.unrestrict(self.subjects, message)

    async def get_receipt_keys(self, message: GetReceiptKeysRequest) -> GetReceiptKeysResponse:
        return await erasure.receipt_keys(self.subjects, message)
