"""MD2 against the test suite of RFC 1319, appendix A.5."""

from __future__ import annotations

import pytest

from storage.md2 import S, md2


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"", "8350e5a3e24c153df2275c9f80692773"),
        (b"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"),
        (b"abc", "da853b0d3f88d99b30283a69e6ded6bb"),
        (b"message digest", "ab4f496bfb2a530b219ff33031fe06b0"),
        (b"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "da33def2a42df13975352846c30338cd",
        ),
        # 80 bytes, five whole blocks: the padding is a block of its own.
        (b"1234567890" * 8, "d5976f79d83d3a0dc9806c3c66f3efd8"),
    ],
)
def test_rfc_1319_test_suite(message: bytes, digest: str) -> None:
    assert md2(message).hex() == digest


def test_the_substitution_table_is_a_permutation() -> None:
    assert sorted(S) == list(range(256))
