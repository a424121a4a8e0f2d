"""Item sizes as DynamoDB's developer guide counts them ("Item sizes and formats")."""

from __future__ import annotations

from typing import Any

import pytest

from storage.dynamodb.sizes import item_size, write_units


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"pk": {"S": "abc"}}, 2 + 3),
        ({"é": {"S": "né"}}, 2 + 3),  # UTF-8 bytes, of the name too
        ({"b": {"B": b"\x00\x01\x02"}}, 1 + 3),  # raw bytes, not base64
        ({"n": {"N": "123.4500"}}, 1 + 3 + 1),  # 12345: three bytes of digit pairs, plus one
        ({"n": {"N": "-0.000120"}}, 1 + 1 + 1),  # leading and trailing zeros do not count
        ({"n": {"N": "0"}}, 1 + 1),
        ({"t": {"BOOL": True}, "z": {"NULL": True}}, 2 + 2),
        ({"l": {"L": []}}, 1 + 3),
        ({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}, 1 + 3 + (1 + 2) + (1 + 2)),
        ({"m": {"M": {"x": {"S": "ab"}}}}, 1 + 3 + 1 + (1 + 2)),
        ({"s": {"SS": ["a", "bc"]}, "ns": {"NS": ["10", "2"]}}, 1 + 3 + 2 + 2 + 2),
        ({"bs": {"BS": [b"ab", b"c"]}}, 2 + 3),
    ],
)
def test_item_size(item: dict[str, Any], size: int) -> None:
    assert item_size(item) == size


def test_a_write_unit_is_each_started_kilobyte() -> None:
    def of(size: int) -> dict[str, Any]:
        return {"k": {"S": "x" * (size - 1)}}

    assert [write_units(of(n)) for n in (2, 1024, 1025, 2048, 400 * 1024)] == [1, 1, 2, 2, 400]


def test_an_unknown_type_is_refused() -> None:
    unknown: Any = {"k": {"X": 1}}
    with pytest.raises(ValueError, match="'X'"):
        item_size(unknown)
