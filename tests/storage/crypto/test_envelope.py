"""Sealing and opening: the associated data binds a ciphertext to its vault and key, and
any change to what rests is refused, with a message that holds nothing of the value."""

from __future__ import annotations

import secrets

import pytest

from storage import ItemFailed, Record
from storage.crypto import BlindIndex, Envelope, Keyring, LocalKeys, envelope
from storage.records import Sealed, SealedRecord

VALUE = "john.doe@acme.com"


@pytest.fixture(autouse=True, params=["c", "pure-python"])
def sealer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here once with each sealer (``tests/storage/crypto/test_batch.py``)."""
    if request.param == "c" and not envelope.NATIVE:
        pytest.skip("the C sealer is not built here")
    if request.param == "pure-python":
        monkeypatch.setattr(envelope, "NATIVE", False)
    return str(request.param)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(LocalKeys.ephemeral())


async def sealed(keyring: Keyring, key: str = "k1", vault: str = "piinguin") -> SealedRecord:
    env = Envelope(keyring, vault, BlindIndex(await keyring.index_key()))
    [record] = await env.seal_many([Record(key, VALUE, field_name="user_id", app_id="shop")])
    return record


async def test_a_sealed_record_opens_to_the_original(keyring: Keyring) -> None:
    record = await sealed(keyring)
    env = Envelope(keyring, "piinguin", None)

    opened = await env.open(record)

    assert isinstance(opened, Record)
    assert opened.original_value == VALUE
    assert (opened.field_name, opened.app_id) == ("user_id", "shop")
    assert record.sealed.key_version == keyring.current_version
    assert VALUE.encode() not in record.sealed.ciphertext
    assert len(record.sealed.ciphertext) == 12 + len(VALUE) + 16


async def test_each_sealing_uses_a_fresh_nonce(keyring: Keyring) -> None:
    env = Envelope(keyring, "piinguin", None)
    one, two = await env.seal_many([Record("k", VALUE), Record("k", VALUE)])

    assert one.sealed.ciphertext != two.sealed.ciphertext
    assert one.sealed.ciphertext[:12] != two.sealed.ciphertext[:12]


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize("bit", [0, 8 * 12, 8 * 12 + 5, -1])  # nonce, body, tag
async def test_one_bit_flipped_is_refused(keyring: Keyring, bit: int) -> None:
    record = await sealed(keyring)
    ciphertext = record.sealed.ciphertext
    at = bit if bit >= 0 else 8 * len(ciphertext) - 1
    tampered = record._replace(sealed=record.sealed._replace(ciphertext=flip_bit(ciphertext, at)))

    opened = await Envelope(keyring, "piinguin", None).open(tampered)

    assert isinstance(opened, ItemFailed)
    assert opened.damaged
    assert "failed authentication" in opened.reason
    assert VALUE not in repr(opened)


async def test_a_ciphertext_moved_to_another_key_is_refused(keyring: Keyring) -> None:
    record = await sealed(keyring, key="k1")
    moved = record._replace(modified_value="k2")

    opened = await Envelope(keyring, "piinguin", None).open(moved)

    assert isinstance(opened, ItemFailed)
    assert opened.damaged


async def test_a_ciphertext_moved_to_another_vault_is_refused(keyring: Keyring) -> None:
    record = await sealed(keyring, vault="piinguin")

    opened = await Envelope(keyring, "piinguin-copy", None).open(record)

    assert isinstance(opened, ItemFailed)
    assert opened.damaged


async def test_a_data_key_of_another_keyring_is_refused(keyring: Keyring) -> None:
    record = await sealed(keyring)

    opened = await Envelope(Keyring(LocalKeys.ephemeral()), "piinguin", None).open(record)

    assert isinstance(opened, ItemFailed)
    assert opened.damaged
    assert "key cannot be used" in opened.reason


async def test_a_swapped_data_key_is_refused(keyring: Keyring) -> None:
    record = await sealed(keyring)
    other = Sealed(record.sealed.key_version, secrets.token_bytes(16), record.sealed.ciphertext)

    opened = await Envelope(keyring, "piinguin", None).open(record._replace(sealed=other))

    assert isinstance(opened, ItemFailed)
    assert opened.damaged


async def test_open_many_passes_plaintext_records_absences_and_failures_through(
    keyring: Keyring,
) -> None:
    record = await sealed(keyring)
    plain = Record("old", "written before encryption")
    failed = ItemFailed("DynamoDB left it unprocessed")

    opened = await Envelope(keyring, "piinguin", None).open_many([record, plain, None, failed])

    assert [getattr(o, "original_value", o) for o in opened] == [
        VALUE,
        "written before encryption",
        None,
        failed,
    ]


async def test_reprs_hide_the_ciphertext(keyring: Keyring) -> None:
    record = await sealed(keyring)

    assert record.sealed.ciphertext.hex() not in repr(record)
    assert "ciphertext=<45 bytes>" in repr(record.sealed)
