"""The original piinguin's service (``--legacy-api``), over v1's storage, policy and audit.

Its clients expect every failure in-band: the gRPC status is OK and ``status.isSuccess``
is false with a message. Our layers raise ``GRPCError``; ``_failure`` turns one into that
message, once, here. Messages are ours, name fields and limits, and never carry an
original value or a backend's text. The original's "Replaces PiiRecord(...)" echo of an
overwritten value is not reproduced.

Authentication happens before this service runs (``calls.CallTracker``): a missing or
unknown credential is still gRPC UNAUTHENTICATED, as are a server shutting down
(UNAVAILABLE) and an undecodable or oversized message (``codec``).

Reads carry no purpose and a basis that defaults to CONSENT, so a claimed CONSENT cannot
be told from an omitted basis. Every legacy read goes through the policy with
``legacy=True`` (the grant's ``legacy_consent_reads``; a grant with a ``purpose_pattern``
never passes) and is audited with ``legacy=True``, the claimed basis and ``PURPOSE``;
deletes and refusals are audited with ``legacy=True`` too. A restricted record (GDPR
Art. 18) is refused in-band, its key audited with FAILED_PRECONDITION: the original API
cannot state a restriction ground.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import ClassVar, TypeVar

from grpclib.const import Status as Code
from grpclib.exceptions import GRPCError

from piinguin.access.context import count_items
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Operation
from piinguin.services import arrivals, methods
from piinguin.services.convert import record_from_message
from piinguin.services.legacy_protocol import (
    SERVICE_NAME,
    ChangeRecordResponse,
    CreatePiiRecordRequest,
    DeletePiiRecordRequest,
    LawfulBasisForProcessing,
    PiinguinBase,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordResponse,
    Status,
)
from piinguin.services.restriction import RESTRICTED, RESTRICTED_MESSAGE
from piinguin.services.validation import invalid_argument, key_problem, record_problem
from piinguin.services.vault import NOT_FOUND_MESSAGE, read_code
from piinguin.stored import stored
from piinguin.v1 import LAWFUL_BASES, LawfulBasis
from piinguin.v1 import PiiRecord as V1Record
from storage import ItemFailed, ReadOutcome, Record, Storage, WriteOutcome
from storage.audit import KeyOutcome

T = TypeVar("T")
Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

#: What legacy reads are audited with: the original API has no purpose field.
PURPOSE = "legacy API: no purpose given"
#: The v1 basis of each original one, by name: the original enum starts at CONSENT = 0,
#: where v1 keeps 0 for "unspecified".
V1_BASES = {basis: LAWFUL_BASES[basis.name.lower()] for basis in LawfulBasisForProcessing}

_OK = Status(is_success=True)
_RESTRICTED = Status(
    message=f"{RESTRICTED_MESSAGE} (read it through piinguin.v1)", is_success=False
)


def _failed(message: str) -> Status:
    return Status(message=message, is_success=False)


def _failure(exc: GRPCError) -> Status:
    """The in-band answer for an error raised by the layers shared with v1."""
    if exc.status is Code.UNAUTHENTICATED:
        raise exc
    if exc.status is Code.PERMISSION_DENIED:
        return _failed(f"permission denied: {exc.message}")
    if exc.status is Code.INVALID_ARGUMENT:
        return _failed(f"invalid request: {exc.message or ''}")
    # UNAVAILABLE: "storage is unavailable", "the audit log is unavailable", ...
    return _failed(exc.message or "the request failed")


async def _in_band(call: Awaitable[T]) -> T | Status:
    """What ``call`` returns, or the in-band failure for the ``GRPCError`` it raises."""
    try:
        return await call
    except GRPCError as exc:
        return _failure(exc)


async def _apply(
    check: Awaitable[object],
    items: Sequence[Item],
    problems: Sequence[str | None],
    call: Callable[[list[Item]], Awaitable[list[Outcome]]],
) -> list[Outcome | Status]:
    """Each item's outcome from ``call``, or the failure that stands for it: the check's
    refusal (every item), its own problem, or the call's error (every item it was given)."""
    refused = await _in_band(check)
    if isinstance(refused, Status):
        return [refused] * len(items)
    results: list[Outcome | Status] = [
        _OK if p is None else _failure(invalid_argument(p)) for p in problems
    ]
    positions = [i for i, problem in enumerate(problems) if problem is None]
    if positions:
        outcomes = await _in_band(call([items[i] for i in positions]))
        for n, i in enumerate(positions):
            results[i] = outcomes if isinstance(outcomes, Status) else outcomes[n]
    return results


def _status(outcome: WriteOutcome | Status) -> Status:
    if isinstance(outcome, Status):
        return outcome
    if isinstance(outcome, ItemFailed) and outcome.erased:
        # Starts "erased": the original clients tell it apart by its message alone.
        return _failed(outcome.reason)
    if isinstance(outcome, ItemFailed) and outcome.damaged:
        return _failed(f"the stored value cannot be used: {outcome.reason}")
    if isinstance(outcome, ItemFailed):
        return _failed(f"storage is unavailable: {outcome.reason}")
    return _OK


def _read_response(outcome: ReadOutcome | Status) -> ReadPiiRecordResponse:
    if isinstance(outcome, Record):
        if outcome.restricted:
            # The original API has no field for an Art. 18(2) ground: never answered here.
            return ReadPiiRecordResponse(status=_RESTRICTED)
        record = PiiRecord(
            modified_value=outcome.modified_value, original_value=outcome.original_value
        )
        return ReadPiiRecordResponse(pii_record=record, status=_OK)
    if outcome is None:
        return ReadPiiRecordResponse(status=_failed(NOT_FOUND_MESSAGE))
    return ReadPiiRecordResponse(status=_status(outcome))


def _key_code(outcome: ReadOutcome) -> int:
    if isinstance(outcome, Record) and outcome.restricted:
        return RESTRICTED.value
    return read_code(outcome).value


def _v1_record(request: CreatePiiRecordRequest) -> V1Record:
    record = request.pii_record or PiiRecord()
    return V1Record(modified_value=record.modified_value, original_value=record.original_value)


class LegacyPiinguinService(PiinguinBase):
    """One response per request. The streams answer in request order as messages arrive,
    in batches of what has arrived (at most ``max_bulk_items``); a failing item never
    ends a stream."""

    #: Its calls are audited as the original protocol's, refusals of unauthenticated
    #: callers (made before any handler runs) included.
    legacy: ClassVar[bool] = True
    #: See ``piinguin.services.methods``.
    operations: ClassVar[Mapping[str, Operation]] = methods.record_operations(SERVICE_NAME)
    bulk_methods: ClassVar[frozenset[str]] = methods.bulk_methods(SERVICE_NAME)

    def __init__(self, storage: Storage, gate: Gatekeeper, *, max_bulk_items: int) -> None:
        self._storage = storage
        self._gate = gate
        self._batch_limit = max_bulk_items

    async def _batches(self, messages: AsyncIterator[T]) -> AsyncIterator[list[T]]:
        total = 0
        async for batch in arrivals.batches(messages, self._batch_limit):
            total += len(batch)
            count_items(total)
            yield batch

    # -- unary: the one-message case of the streams -------------------------------------

    async def create_pii_record(self, message: CreatePiiRecordRequest) -> ChangeRecordResponse:
        count_items(1)
        [status] = await self._create([message])
        return ChangeRecordResponse(status=status)

    async def read_pii_record(self, message: ReadPiiRecordRequest) -> ReadPiiRecordResponse:
        count_items(1)
        [response] = await self._read([message])
        return response

    async def delete_pii_record(self, message: DeletePiiRecordRequest) -> ChangeRecordResponse:
        count_items(1)
        [status] = await self._delete([message])
        return ChangeRecordResponse(status=status)

    # -- bidirectional streams ------------------------------------------------------------

    async def create_pii_records(
        self, messages: AsyncIterator[CreatePiiRecordRequest]
    ) -> AsyncIterator[ChangeRecordResponse]:
        async for batch in self._batches(messages):
            for status in await self._create(batch):
                yield ChangeRecordResponse(status=status)

    async def read_pii_records(
        self, messages: AsyncIterator[ReadPiiRecordRequest]
    ) -> AsyncIterator[ReadPiiRecordResponse]:
        async for batch in self._batches(messages):
            for response in await self._read(batch):
                yield response

    async def delete_pii_records(
        self, messages: AsyncIterator[DeletePiiRecordRequest]
    ) -> AsyncIterator[ChangeRecordResponse]:
        async for batch in self._batches(messages):
            for status in await self._delete(batch):
                yield ChangeRecordResponse(status=status)

    # -- one batch: one result per request, in request order ------------------------------

    async def _create(self, requests: Sequence[CreatePiiRecordRequest]) -> list[Status]:
        records = [_v1_record(request) for request in requests]
        outcomes = await _apply(
            self._gate.require("write", [record.modified_value for record in records], legacy=True),
            records,
            [
                "piiRecord is required" if request.pii_record is None else record_problem(record)
                for request, record in zip(requests, records, strict=True)
            ],
            self._put,
        )
        return [_status(outcome) for outcome in outcomes]

    async def _read(self, requests: Sequence[ReadPiiRecordRequest]) -> list[ReadPiiRecordResponse]:
        # The policy and the audit event take one basis: the batch goes by basis claimed.
        responses: list[ReadPiiRecordResponse] = [ReadPiiRecordResponse()] * len(requests)
        by_basis: dict[LawfulBasis, list[int]] = {}
        for i, request in enumerate(requests):
            basis = V1_BASES.get(request.processing_basis)
            if basis is None:
                problem = f"processingBasis {int(request.processing_basis)} is not a known basis"
                responses[i] = ReadPiiRecordResponse(status=_failure(invalid_argument(problem)))
            else:
                by_basis.setdefault(basis, []).append(i)
        for basis, positions in by_basis.items():
            keys = [requests[i].modified_value for i in positions]
            outcomes = await _apply(
                self._gate.require_read(basis, PURPOSE, keys, legacy=True),
                keys,
                [key_problem(key) for key in keys],
                partial(self._get, basis=basis),
            )
            for i, outcome in zip(positions, outcomes, strict=True):
                responses[i] = _read_response(outcome)
        return responses

    async def _delete(self, requests: Sequence[DeletePiiRecordRequest]) -> list[Status]:
        keys = [request.modified_value for request in requests]
        outcomes = await _apply(
            self._gate.require("delete", keys, legacy=True),
            keys,
            [key_problem(key) for key in keys],
            self._remove,
        )
        return [_status(outcome) for outcome in outcomes]

    # -- storage, and the audit event before anything personal leaves ----------------------

    async def _put(self, records: list[V1Record]) -> list[WriteOutcome]:
        return await stored(self._storage.put_many([record_from_message(r) for r in records]))

    async def _get(self, keys: list[str], *, basis: LawfulBasis) -> list[ReadOutcome]:
        outcomes = await stored(self._storage.get_many(keys))
        await self._gate.record(
            "read",
            Code.OK,
            [KeyOutcome(key, _key_code(o)) for key, o in zip(keys, outcomes, strict=True)],
            basis=basis,
            purpose=PURPOSE,
            legacy=True,
        )
        return outcomes

    async def _remove(self, keys: list[str]) -> list[WriteOutcome]:
        return await self._gate.delete(keys, stored(self._storage.delete_many(keys)), legacy=True)
