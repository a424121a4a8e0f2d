"""Normalisation and the blind index."""

from __future__ import annotations

import hmac
import secrets

import pytest

from storage.crypto import BlindIndex, IndexKey, normalise


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("JOHN@x.io", "john@x.io"),
        ("Jöhn@Exämple.de", "jöhn@exämple.de"),
        ("192.168.000.1", "192.168.000.1"),  # leading zeros are not an address: left as is
        ("192.168.0.1", "192.168.0.1"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("7d8a4b5e", "7d8a4b5e"),  # a hex id: no dot or colon, not tried as an address
        ("dead:beef", "dead:beef"),  # not an address: left as is
        ("Cafe\u0301", "Caf\u00e9"),  # NFC
        ("  padded name ", "  padded name "),  # only addresses are trimmed
        ("two @ signs@x", "two @ signs@x"),  # spaces: not an address
    ],
)
def test_normalise(value: str, normal: str) -> None:
    assert normalise(value) == normal


def test_the_index_is_a_truncated_hmac_sha256_of_the_normal_form() -> None:
    key = IndexKey(secrets.token_bytes(32), 22)
    index = BlindIndex(key)

    expected = hmac.digest(key.key, b"john@acme.com", "sha256")

    assert index.mac("john@acme.com") == expected
    # 22 bits: five whole hex digits, and the top two bits of the sixth.
    kept = int.from_bytes(expected[:8], "big") >> (64 - 22)
    assert int(index(" John@ACME.com"), 16) == kept << 2
    assert len(index("anything")) == 6


@pytest.mark.parametrize("bits", [8, 9, 10, 11, 12, 16, 22, 32, 63, 64])
def test_the_index_keeps_exactly_its_bits(bits: int) -> None:
    key = IndexKey(secrets.token_bytes(32), bits)
    index = BlindIndex(key)
    values = {index(f"value {n}") for n in range(4000)}

    full = int.from_bytes(hmac.digest(key.key, b"value 7", "sha256")[:8], "big")
    assert int(index("value 7"), 16) >> (-bits % 4) == full >> (64 - bits)
    assert len(values) <= 2**bits


def test_equal_normal_forms_share_an_index_and_keys_separate_them() -> None:
    one = BlindIndex(IndexKey(secrets.token_bytes(32), 32))
    other = BlindIndex(IndexKey(secrets.token_bytes(32), 32))

    assert one("John@Acme.com") == one("john@acme.com ")
    assert one("::ffff:10.1.2.3") == one("10.1.2.3")
    assert one("john@acme.com") != other("john@acme.com")


@pytest.mark.parametrize("bits", [9, 22, 32])
def test_the_digest_is_the_whole_hmac_and_the_index_its_truncation(bits: int) -> None:
    key = IndexKey(secrets.token_bytes(32), bits)
    index = BlindIndex(key)

    digest = index.digest(" John@ACME.com")

    assert digest == hmac.digest(key.key, b"john@acme.com", "sha256").hex()
    assert index.truncated(digest) == index("john@acme.com")
    assert digest.startswith(index("john@acme.com")[: bits // 4])
