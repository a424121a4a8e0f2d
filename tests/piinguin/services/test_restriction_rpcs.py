"""RestrictSubject, UnrestrictSubject and the reads' restriction ground through the raw
stub, over a socket and in memory, as ``--insecure-no-auth`` serves them (every grant)."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.services.restriction import RESTRICTED_MESSAGE
from piinguin.v1 import (
    CreatePiiRecordsRequest,
    LawfulBasis,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
    ReadResult,
    RestrictionGround,
    SubjectRequest,
)

BASIS, PURPOSE = LawfulBasis.LEGAL_OBLIGATION, "ticket-9"


def status(result: ReadResult) -> tuple[int, str]:
    return (result.status.code, result.status.message) if result.status else (0, "")


def person(*keys: str) -> SubjectRequest:
    return SubjectRequest(modified_values=list(keys), lawful_basis=BASIS, purpose=PURPOSE)


async def test_restrict_then_reads_need_a_ground_until_unrestricted(stub: PiinguinStub) -> None:
    records = [PiiRecord(modified_value=k, original_value=f"{k}@example.com") for k in "abc"]
    await stub.create_pii_records(CreatePiiRecordsRequest(records=records))

    done = await stub.restrict_subject(person("b", "never-stored"))
    plain = ReadPiiRecordsRequest(modified_values=["a", "b"], lawful_basis=BASIS, purpose=PURPOSE)
    refused = await stub.read_pii_records(plain)
    with pytest.raises(GRPCError) as unary:
        await stub.read_pii_record(
            ReadPiiRecordRequest(modified_value="b", lawful_basis=BASIS, purpose=PURPOSE)
        )
    grounded = await stub.read_pii_record(
        ReadPiiRecordRequest(
            modified_value="b",
            lawful_basis=BASIS,
            purpose=PURPOSE,
            restriction_ground=RestrictionGround.LEGAL_CLAIMS,
        )
    )
    lifted = await stub.unrestrict_subject(person("b"))
    again = await stub.read_pii_records(plain)

    assert done.modified_values == ["b", "never-stored"]
    assert done.at is not None
    assert [status(r) for r in refused.results] == [
        (0, ""),
        (9, RESTRICTED_MESSAGE),
    ]
    assert refused.results[1].record is None
    assert (unary.value.status, unary.value.message) == (
        Status.FAILED_PRECONDITION,
        RESTRICTED_MESSAGE,
    )
    assert grounded.record is not None
    assert grounded.record.restricted
    assert lifted.modified_values == ["b"]
    assert [status(r) for r in again.results] == [(0, ""), (0, "")]
    assert [r.record.restricted for r in again.results if r.record] == [False, False]


async def test_a_restriction_request_must_name_someone_and_be_justified(stub: PiinguinStub) -> None:
    for request, problem in [
        (SubjectRequest(lawful_basis=BASIS, purpose=PURPOSE), "name the person"),
        (SubjectRequest(modified_values=["a"], purpose=PURPOSE), "lawful_basis is required"),
        (SubjectRequest(modified_values=["a"], lawful_basis=BASIS), "purpose is required"),
    ]:
        for act in (stub.restrict_subject, stub.unrestrict_subject):
            with pytest.raises(GRPCError) as raised:
                await act(request)
            assert raised.value.status is Status.INVALID_ARGUMENT
            assert problem in (raised.value.message or "")
