"""``find_subject`` and ``export_subject`` against a real server over a socket, with
encryption at rest (so values are found by the blind index)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from grpclib.const import Status

from piinguin.client import (
    FoundSubject,
    InvalidArgument,
    LawfulBasis,
    PiinguinClient,
    PiinguinError,
    Value,
)
from storage import Record
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryStorage
from tests import conftest
from tests.piinguin.client.conftest import Scripted

VALUE = "alice+canary@example.com"
BASIS, PURPOSE = LawfulBasis.CONTRACT, "DSR-8"


@pytest.fixture
async def sealed() -> AsyncIterator[conftest.Vault[EncryptedStorage]]:
    storage = EncryptedStorage(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")
    await storage.put_many(
        [Record("k-user", VALUE, "user_id", app_id="shop"), Record("k-ctx", VALUE, "contexts")]
    )
    async with conftest.running_vault(storage, grace_period=0) as vault:
        yield vault


async def test_find_subject_takes_plain_values_values_with_fields_and_pseudonyms(
    sealed: conftest.Vault[EncryptedStorage],
) -> None:
    async with PiinguinClient(sealed.target) as client:
        everything = await client.find_subject(values=[VALUE], basis=BASIS, purpose=PURPOSE)
        narrowed = await client.find_subject(
            values=[Value(VALUE, "user_id")], basis=BASIS, purpose=PURPOSE
        )
        named = await client.find_subject(modified_values=["k-ctx"], basis=BASIS, purpose=PURPOSE)

    assert isinstance(everything, FoundSubject)
    assert [r.modified_value for r in everything.records] == ["k-ctx", "k-user"]
    assert everything.complete
    assert [(r.modified_value, r.app_id) for r in narrowed.records] == [("k-user", "shop")]
    assert [(r.modified_value, r.found_by) for r in named.records] == [("k-ctx", ["pseudonym"])]


async def test_export_subject_answers_the_parsed_document(
    sealed: conftest.Vault[EncryptedStorage],
) -> None:
    async with PiinguinClient(sealed.target) as client:
        document = await client.export_subject(
            values=[Value(VALUE, "contexts")], basis=BASIS, purpose=PURPOSE
        )

    assert document["format"] == "piinguin.subject-export/1"
    assert [(r["modified_value"], r["original_value"]) for r in document["records"]] == [
        ("k-ctx", VALUE)
    ]


async def test_errors_are_mapped_as_for_the_other_calls(
    sealed: conftest.Vault[EncryptedStorage],
) -> None:
    async with PiinguinClient(sealed.target) as client:
        with pytest.raises(InvalidArgument, match="purpose is required"):
            await client.find_subject(values=[VALUE], basis=BASIS, purpose="")
        with pytest.raises(InvalidArgument, match="name the person"):
            await client.export_subject(basis=BASIS, purpose=PURPOSE)


@pytest.mark.parametrize("document", ["not json", "[1, 2]"])
async def test_an_export_that_is_not_a_json_object_is_an_error(
    scripted: Scripted, document: str
) -> None:
    async with PiinguinClient(scripted.target) as client:
        with pytest.raises(PiinguinError, match="not a JSON object") as caught:
            await client.export_subject(values=[VALUE], basis=BASIS, purpose=document)

    assert caught.value.status is Status.UNKNOWN


def test_a_value_keeps_its_text_out_of_its_repr() -> None:
    assert VALUE not in repr(Value(VALUE, "user_id"))
    assert repr(Value(VALUE)) == "Value(value=<redacted>, field_name='')"
