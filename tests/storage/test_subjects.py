"""The pseudonyms Snowplow enrich makes of a value, recomputed (``snowplow_pseudonym``)."""

from __future__ import annotations

import hashlib

import pytest

from storage.subjects import SNOWPLOW_HASHES, snowplow_pseudonym

VALUE, SALT = "john@acme.com", "pepper-2024"


@pytest.mark.parametrize(
    ("name", "algorithm"),
    [
        ("MD5", "md5"),
        ("SHA-1", "sha1"),
        ("SHA-256", "sha256"),
        ("SHA-384", "sha384"),
        ("SHA-512", "sha512"),
        ("sha256", "sha256"),
        ("Sha-512", "sha512"),
        ("md5", "md5"),
    ],
)
def test_hashlib_hashes_of_the_value_then_the_salt(name: str, algorithm: str) -> None:
    expected = hashlib.new(algorithm, b"john@acme.compepper-2024").hexdigest()

    assert snowplow_pseudonym(VALUE, SALT, name) == expected


def test_md2_under_any_spelling() -> None:
    # RFC 1319's vector for "abc", split between the value and the salt.
    for name in ("MD2", "md2", "Md-2"):
        assert snowplow_pseudonym("ab", "c", name) == "da853b0d3f88d99b30283a69e6ded6bb"


def test_the_value_is_hashed_as_utf_8() -> None:
    expected = hashlib.sha256("Jöhn Dœ".encode()).hexdigest()

    assert snowplow_pseudonym("Jöhn", " Dœ", "SHA-256") == expected


def test_every_snowplow_hash_is_known_and_gives_lowercase_hex() -> None:
    lengths = [len(snowplow_pseudonym(VALUE, SALT, name)) for name in SNOWPLOW_HASHES]

    assert lengths == [32, 32, 40, 64, 96, 128]
    assert all(c in "0123456789abcdef" for c in snowplow_pseudonym(VALUE, SALT, "MD2"))


@pytest.mark.parametrize("name", ["SHA-3", "", "BLAKE2", "sha-256-x"])
def test_an_unknown_hash_function_is_named(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown hash function {name!r}"):
        snowplow_pseudonym(VALUE, SALT, name)
