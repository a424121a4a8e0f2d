"""An item's size as DynamoDB counts it, and the write units that size costs.

DynamoDB's rules ("Item sizes and formats" in its developer guide): each attribute costs
its name's UTF-8 bytes plus its value's size; a string is its UTF-8 bytes, a binary its
raw bytes, a number one byte per two significant digits plus one, a boolean or null one
byte; a list or map 3 bytes plus one byte per element plus its elements (a map's
element names included); a set the sum of its members. A write costs one write unit per
started KB of the item, and the same again for every index the item is written to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.dynamodb.items import Item

#: DynamoDB refuses an item over 400 KB.
MAX_ITEM_BYTES = 400 * 1024
WRITE_UNIT_BYTES = 1024


def item_size(item: Item) -> int:
    return _attributes_size(item)


def write_units(item: Item) -> int:
    """What writing ``item`` once costs: a unit per started KB, at least one."""
    return max(1, math.ceil(item_size(item) / WRITE_UNIT_BYTES))


def _attributes_size(attributes: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in attributes.items())


def _value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one return a type
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        return _number_size(content)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind == "M":
        return 3 + len(content) + _attributes_size(content)
    if kind == "SS":
        return sum(len(member.encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(member) for member in content)
    if kind == "BS":
        return sum(len(member) for member in content)
    raise ValueError(f"not a DynamoDB attribute value type: {kind!r}")


def _number_size(text: str) -> int:
    """One byte per two significant digits, plus one: leading and trailing zeros, sign,
    decimal point and exponent are not digits that count."""
    mantissa = text.lstrip("+-").lower().partition("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1
