"""``PiinguinClient``: typed async calls to a Piinguin server over one gRPC channel.

    async with PiinguinClient("127.0.0.1:50051", token=token) as client:
        await client.create_record(PiiRecord(modified_value=key, original_value=email))
        record = await client.read_record(key, basis=LawfulBasis.CONSENT, purpose="ticket 42")

Failed calls raise the exceptions of ``piinguin.client.errors``; bulk calls answer one
``ItemResult`` per item, in request order, and raise only when the call as a whole fails.
"""

from __future__ import annotations

import json
import math
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

from grpclib.client import Channel
from grpclib.const import Status
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpclib.metadata import encode_metadata

from piinguin.client.erasure import ErasureReceipt
from piinguin.client.errors import (
    DeadlineExceeded,
    InvalidArgument,
    PermissionDenied,
    PiinguinError,
    RecordNotFound,
    ResourceExhausted,
    Restricted,
    Unauthenticated,
    Unavailable,
    is_erased,
    translated_errors,
)
from piinguin.codec import UpbCodec
from piinguin.v1 import (
    SERVICE_NAME,
    AuditEvent,
    CreatePiiRecordRequest,
    CreatePiiRecordsRequest,
    DeletePiiRecordRequest,
    DeletePiiRecordsRequest,
    GetReceiptKeysRequest,
    ItemStatus,
    LawfulBasis,
    ListAuditEventsRequest,
    ListAuditEventsResponse,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
    ReadResult,
    RestrictionGround,
    SubjectRecord,
    SubjectRequest,
    SubjectValue,
)

__all__ = [
    "DeadlineExceeded",
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
    "Restricted",
    "Restriction",
    "RestrictionGround",
    "Unauthenticated",
    "Unavailable",
    "Value",
    "parse_target",
]

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One bulk item's outcome. ``message`` is empty on success and never holds a value."""

    status: Status
    message: str

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def erased(self) -> bool:
        """Not stored because its data subject was erased (GDPR Art. 17): never stored
        again under this key or value, however often it is written. Not a failure."""
        return self.status is Status.FAILED_PRECONDITION and is_erased(self.message)


@dataclass(frozen=True, slots=True)
class ReadItemResult(ItemResult):
    record: PiiRecord | None = None

    @property
    def restricted(self) -> bool:
        """The record is restricted (GDPR Art. 18) and the read stated no ground."""
        return self.status is Status.FAILED_PRECONDITION


@dataclass(frozen=True, slots=True)
class Restriction:
    """What ``restrict_subject`` or ``unrestrict_subject`` did: the pseudonyms it applied
    to (found or named) and when."""

    modified_values: list[str]
    at: datetime | None


class Value(NamedTuple):
    """One value a person knows, for the data-subject calls: ``Value("jane@example.com")``,
    or narrowed to one field, ``Value("jane@example.com", "user_id")``."""

    value: str
    field_name: str = ""

    def __repr__(self) -> str:
        # Personal data: kept out of reprs, and so out of tracebacks and logs.
        return f"Value(value=<redacted>, field_name={self.field_name!r})"


@dataclass(frozen=True, slots=True)
class FoundSubject:
    """What ``find_subject`` found: each record's provenance (never its original), the
    candidates that could not be opened to confirm them, and whether the server could
    look values up at all (``complete``: see ``FindSubjectResponse``)."""

    records: list[SubjectRecord]
    unreadable: list[str]
    complete: bool


def _subject_request(
    values: Sequence[Value | str],
    modified_values: Sequence[str],
    basis: LawfulBasis,
    purpose: str,
) -> SubjectRequest:
    return SubjectRequest(
        values=[SubjectValue(value=v) if isinstance(v, str) else SubjectValue(*v) for v in values],
        modified_values=list(modified_values),
        lawful_basis=basis,
        purpose=purpose,
    )


def parse_target(target: str) -> tuple[str, int]:
    """Split ``host:port`` or ``[ipv6]:port``; raises ValueError saying what is wrong."""
    example = "e.g. 127.0.0.1:50051 or [::1]:50051"
    scheme, separator, rest = target.partition("://")
    if separator:
        tls = " and ask for TLS with --tls" if scheme.lower() in {"https", "grpcs"} else ""
        raise ValueError(
            f"target {target!r} has a scheme: a target is host:port, without {scheme}://,"
            f" e.g. {rest.rstrip('/') or '127.0.0.1:50051'}{tls}"
        )
    host, colon, port_text = target.rpartition(":")
    if not colon or not host:
        raise ValueError(f"target {target!r} is not host:port, {example}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"target {target!r}: put an IPv6 address in brackets, {example}")
    if not host or any(c.isspace() or c in "[]" for c in host):
        raise ValueError(f"target {target!r} has no valid host, {example}")
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(f"target {target!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _call_metadata(metadata: Mapping[str, str] | None, token: str | None) -> dict[str, str]:
    merged = dict(metadata or {})
    if token is not None:
        if "authorization" in merged:
            raise ValueError("pass the bearer token either as token= or in metadata, not both")
        if not token:
            raise ValueError("the token is empty")
        merged["authorization"] = f"Bearer {token}"
    for key, value in merged.items():
        try:
            encode_metadata([(key, value)])
        except (TypeError, ValueError):
            # Not chained: grpclib's message quotes the value, and it may be a secret.
            if token is not None and key == "authorization":
                raise ValueError("the token must be printable ASCII") from None
            raise ValueError(
                f"metadata {key!r}: keys must be lowercase letters, digits, '-', '_' or '.'"
                " and values printable ASCII"
            ) from None
    return merged


def _status(code: int) -> Status:
    try:
        return Status(code)
    except ValueError:
        return Status.UNKNOWN


def _item_result(item: ItemStatus | None) -> ItemResult:
    if item is None:
        return ItemResult(Status.OK, "")
    return ItemResult(_status(item.code), item.message)


def _read_item_result(item: ReadResult) -> ReadItemResult:
    result = _item_result(item.status)
    if result.ok and item.record is None:
        return ReadItemResult(Status.UNKNOWN, "the server answered OK without a record")
    return ReadItemResult(result.status, result.message, item.record if result.ok else None)


def _check_count(results: Sequence[object], expected: int) -> None:
    if len(results) != expected:
        raise PiinguinError(
            f"the server answered {len(results)} results for {expected} items",
            status=Status.INTERNAL,
        )


class PiinguinClient:
    """Owns one gRPC channel, opened by ``async with`` and reused by every call.

    ``timeout`` is each call's deadline in seconds (None: no deadline); ``metadata`` and
    ``token`` (sent as ``authorization: Bearer <token>``) go with every call.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float | None = 10.0,
        ssl: _ssl.SSLContext | bool | None = None,
        metadata: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self._host, self._port = parse_target(target)
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout}")
        self.target = target
        self._timeout = timeout
        self._ssl = ssl
        self._metadata = _call_metadata(metadata, token)
        self._channel: Channel | None = None
        self._stub: PiinguinStub | None = None
        self._health: HealthStub | None = None

    async def __aenter__(self) -> Self:
        if self._channel is not None:
            raise RuntimeError("this PiinguinClient is already open")
        # upb does the wire work: bulk calls of the relay encode thousands of records.
        self._channel = Channel(self._host, self._port, ssl=self._ssl, codec=UpbCodec())
        self._stub = PiinguinStub(
            self._channel, timeout=self._timeout, metadata=self._metadata or None
        )
        self._health = HealthStub(self._channel)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = self._health = None

    def _open_stub(self) -> PiinguinStub:
        if self._stub is None:
            raise RuntimeError("use the client inside `async with PiinguinClient(...)`")
        return self._stub

    async def _call(
        self, rpc: Callable[[RequestT], Awaitable[ResponseT]], request: RequestT
    ) -> ResponseT:
        with translated_errors(self.target):
            return await rpc(request)

    # -- health ---------------------------------------------------------------------------

    async def health(self) -> str:
        """The server's health for the Piinguin service, as the gRPC health protocol names
        it: ``SERVING``, ``NOT_SERVING`` (storage not ready, or draining), and the like."""
        if self._health is None:
            raise RuntimeError("use the client inside `async with PiinguinClient(...)`")
        check = self._health.Check
        request = HealthCheckRequest(service=SERVICE_NAME)
        with translated_errors(self.target):
            response = await check(request, timeout=self._timeout, metadata=self._metadata)
        return str(HealthCheckResponse.ServingStatus.Name(response.status))

    # -- one record ---------------------------------------------------------------------

    async def create_record(self, record: PiiRecord) -> None:
        await self._call(self._open_stub().create_pii_record, CreatePiiRecordRequest(record=record))

    async def read_record(
        self,
        modified_value: str,
        *,
        basis: LawfulBasis,
        purpose: str,
        restriction_ground: RestrictionGround = RestrictionGround.UNSPECIFIED,
    ) -> PiiRecord:
        """The record under ``modified_value``. A restricted one (GDPR Art. 18) raises
        ``Restricted`` unless the read states a ``restriction_ground``."""
        request = ReadPiiRecordRequest(
            modified_value=modified_value,
            lawful_basis=basis,
            purpose=purpose,
            restriction_ground=restriction_ground,
        )
        try:
            response = await self._call(self._open_stub().read_pii_record, request)
        except PiinguinError as exc:
            if exc.status is Status.FAILED_PRECONDITION:
                raise Restricted(exc.message) from exc
            raise
        if response.record is None:
            raise PiinguinError("the server answered OK without a record", status=Status.UNKNOWN)
        return response.record

    async def delete_record(self, modified_value: str) -> None:
        request = DeletePiiRecordRequest(modified_value=modified_value)
        await self._call(self._open_stub().delete_pii_record, request)

    # -- bulk: one result per item, in request order --------------------------------------

    async def create_records(self, records: Sequence[PiiRecord]) -> list[ItemResult]:
        request = CreatePiiRecordsRequest(records=list(records))
        response = await self._call(self._open_stub().create_pii_records, request)
        _check_count(response.results, len(records))
        return [_item_result(item) for item in response.results]

    async def read_records(
        self,
        modified_values: Sequence[str],
        *,
        basis: LawfulBasis,
        purpose: str,
        restriction_ground: RestrictionGround = RestrictionGround.UNSPECIFIED,
    ) -> list[ReadItemResult]:
        """One result per key; a restricted record read without a ``restriction_ground``
        is a result whose ``restricted`` is true."""
        request = ReadPiiRecordsRequest(
            modified_values=list(modified_values),
            lawful_basis=basis,
            purpose=purpose,
            restriction_ground=restriction_ground,
        )
        response = await self._call(self._open_stub().read_pii_records, request)
        _check_count(response.results, len(modified_values))
        return [_read_item_result(item) for item in response.results]

    async def delete_records(self, modified_values: Sequence[str]) -> list[ItemResult]:
        request = DeletePiiRecordsRequest(modified_values=list(modified_values))
        response = await self._call(self._open_stub().delete_pii_records, request)
        _check_count(response.results, len(modified_values))
        return [_item_result(item) for item in response.results]

    # -- audit ----------------------------------------------------------------------------

    async def list_audit_events(
        self,
        *,
        modified_value: str = "",
        principal: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> ListAuditEventsResponse:
        """One page of audit events, oldest first; pass ``next_page_token`` on for more."""
        request = ListAuditEventsRequest(
            modified_value=modified_value,
            principal=principal,
            since=since,
            until=until,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call(self._open_stub().list_audit_events, request)

    async def audit_events(self, **filters: Any) -> AsyncIterator[AuditEvent]:
        """Every audit event matching ``filters`` (as ``list_audit_events``), page by page."""
        token = ""
        while True:
            page = await self.list_audit_events(**filters, page_token=token)
            for event in page.events:
                yield event
            token = page.next_page_token
            if not token:
                return

    # -- data-subject rights ------------------------------------------------------------

    async def find_subject(
        self,
        *,
        values: Sequence[Value | str] = (),
        modified_values: Sequence[str] = (),
        basis: LawfulBasis,
        purpose: str,
    ) -> FoundSubject:
        """The pseudonyms stored for the person who knows ``values`` (a ``Value`` narrows
        one to a field) or holds ``modified_values``, with provenance, never originals."""
        request = _subject_request(values, modified_values, basis, purpose)
        response = await self._call(self._open_stub().find_subject, request)
        return FoundSubject(list(response.records), list(response.unreadable), response.complete)

    async def export_subject(
        self,
        *,
        values: Sequence[Value | str] = (),
        modified_values: Sequence[str] = (),
        basis: LawfulBasis,
        purpose: str,
    ) -> dict[str, Any]:
        """Everything held about the person (GDPR Art. 15), as the export document
        (README, "Export"), parsed: it holds their original values."""
        request = _subject_request(values, modified_values, basis, purpose)
        response = await self._call(self._open_stub().export_subject, request)
        try:
            document = json.loads(response.document)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise PiinguinError(
                "the server answered an export that is not a JSON object", status=Status.UNKNOWN
            )
        return document

    async def erase_subject(
        self,
        *,
        values: Sequence[Value | str] = (),
        modified_values: Sequence[str] = (),
        basis: LawfulBasis,
        purpose: str,
    ) -> ErasureReceipt:
        """Erase a person's records for good (GDPR Art. 17), found as ``find_subject``
        finds them, and tombstone their pseudonyms and values so that nothing is stored
        under them again; the server's signed receipt. ``purpose`` is its "why"."""
        request = _subject_request(values, modified_values, basis, purpose)
        return ErasureReceipt.of(await self._call(self._open_stub().erase_subject, request))

    async def receipt_keys(self) -> dict[str, str]:
        """The public keys (PEM) the server signs erasure receipts with, by key id."""
        response = await self._call(self._open_stub().get_receipt_keys, GetReceiptKeysRequest())
        return {key.key_id: key.public_key_pem for key in response.keys}

    # -- restriction of processing (GDPR Art. 18) ----------------------------------------

    async def restrict_subject(
        self,
        *,
        values: Sequence[Value | str] = (),
        modified_values: Sequence[str] = (),
        basis: LawfulBasis,
        purpose: str,
    ) -> Restriction:
        """Restrict the person who knows ``values`` (a ``Value`` narrows one to a field) or
        holds ``modified_values``: their records, and any written later under those
        pseudonyms or values, are refused to reads that state no restriction ground.
        Idempotent: retry one that raised ``Unavailable``."""
        request = _subject_request(values, modified_values, basis, purpose)
        response = await self._call(self._open_stub().restrict_subject, request)
        return Restriction(list(response.modified_values), response.at)

    async def unrestrict_subject(
        self,
        *,
        values: Sequence[Value | str] = (),
        modified_values: Sequence[str] = (),
        basis: LawfulBasis,
        purpose: str,
    ) -> Restriction:
        """Lift the person's restriction, as ``restrict_subject`` names them."""
        request = _subject_request(values, modified_values, basis, purpose)
        response = await self._call(self._open_stub().unrestrict_subject, request)
        return Restriction(list(response.modified_values), response.at)
