"""record_problem's shortcuts name the same problems as the field-by-field checks."""

from __future__ import annotations

import pytest

from piinguin.services.validation import MAX_PROVENANCE_CHARS, record_problem
from piinguin.v1 import PiiRecord
from storage import MAX_KEY_BYTES

LIMIT = "x" * MAX_PROVENANCE_CHARS


def test_provenance_long_together_but_not_alone_is_accepted() -> None:
    record = PiiRecord(
        modified_value="k",
        original_value="v",
        field_name=LIMIT,
        json_path=LIMIT,
        schema=LIMIT,
        hash_function=LIMIT,
        app_id=LIMIT,
    )

    assert record_problem(record) is None


@pytest.mark.parametrize("name", ["field_name", "json_path", "schema", "hash_function", "app_id"])
def test_the_one_field_too_long_is_named(name: str) -> None:
    record = PiiRecord(modified_value="k", original_value="v")
    setattr(record, name, LIMIT + "x")

    assert record_problem(record) == f"{name} is longer than {MAX_PROVENANCE_CHARS} characters"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "modified_value is empty"),
        ("k" * MAX_KEY_BYTES, None),
        ("é" * (MAX_KEY_BYTES // 2), None),  # 4 bytes a character would be too many
        ("é" * (MAX_KEY_BYTES // 2 + 1), f"modified_value is longer than {MAX_KEY_BYTES} bytes"),
    ],
)
def test_keys_are_checked_in_utf8_bytes(key: str, problem: str | None) -> None:
    assert record_problem(PiiRecord(modified_value=key, original_value="v")) == problem
