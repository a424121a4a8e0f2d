"""The client's restriction calls and the reads' restriction ground, against a real server
(``--insecure-no-auth``: every grant, restricted reads included)."""

from __future__ import annotations

import pytest

from piinguin.client import (
    LawfulBasis,
    PiinguinClient,
    PiiRecord,
    Restricted,
    RestrictionGround,
    Value,
)
from piinguin.client.errors import PiinguinError

pytestmark = pytest.mark.socket

BASIS, PURPOSE = LawfulBasis.CONSENT, "ticket 3"


async def test_restricted_reads_raise_or_flag_until_a_ground_is_stated(
    client: PiinguinClient,
) -> None:
    await client.create_records(
        [PiiRecord(modified_value=k, original_value=f"{k}@example.com") for k in ("a", "b")]
    )

    done = await client.restrict_subject(modified_values=["a"], basis=BASIS, purpose=PURPOSE)

    assert done.modified_values == ["a"]
    with pytest.raises(Restricted) as raised:
        await client.read_record("a", basis=BASIS, purpose=PURPOSE)
    assert isinstance(raised.value, PiinguinError)
    assert "GDPR Art. 18" in raised.value.message
    [a, b] = await client.read_records(["a", "b"], basis=BASIS, purpose=PURPOSE)
    assert (a.restricted, a.record, b.restricted, b.ok) == (True, None, False, True)
    record = await client.read_record(
        "a", basis=BASIS, purpose=PURPOSE, restriction_ground=RestrictionGround.SUBJECT_CONSENT
    )
    assert (record.original_value, record.restricted) == ("a@example.com", True)
    [a] = await client.read_records(
        ["a"], basis=BASIS, purpose=PURPOSE, restriction_ground=RestrictionGround.LEGAL_CLAIMS
    )
    assert a.ok
    assert a.record is not None


async def test_unrestrict_subject_lifts_it(client: PiinguinClient) -> None:
    await client.create_record(PiiRecord(modified_value="a", original_value="a@example.com"))
    await client.restrict_subject(modified_values=["a"], basis=BASIS, purpose=PURPOSE)

    done = await client.unrestrict_subject(modified_values=["a"], basis=BASIS, purpose=PURPOSE)

    assert done.modified_values == ["a"]
    assert done.at is not None
    assert (await client.read_record("a", basis=BASIS, purpose=PURPOSE)).restricted is False


def test_a_value_keeps_the_person_out_of_its_repr() -> None:
    assert "jane" not in repr(Value("jane@example.com", "user_id"))
