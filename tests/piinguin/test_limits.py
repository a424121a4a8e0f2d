"""What a record may hold: the one definition the server, the relay and the CLI apply.

record_problem's shortcuts name the same problems as the field-by-field checks.
"""

from __future__ import annotations

import pytest

import storage
from piinguin.limits import MAX_KEY_BYTES, MAX_PROVENANCE_CHARS, key_problem, record_problem
from piinguin.v1 import PiiRecord

LIMIT = "x" * MAX_PROVENANCE_CHARS


def test_the_key_limit_fits_every_storage_backend() -> None:
    assert MAX_KEY_BYTES <= storage.MAX_KEY_BYTES


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
    assert key_problem(key) == problem


@pytest.mark.parametrize(
    ("character", "code"),
    [
        ("\t", "0009"),
        ("\n", "000A"),
        ("\r", "000D"),
        ("\x00", "0000"),
        ("\x1b", "001B"),
        ("\x7f", "007F"),
        ("\x85", "0085"),
        ("\u2028", "2028"),
        ("\u2029", "2029"),
    ],
)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_keys_with_control_characters_are_refused(character: str, code: str, where: str) -> None:
    hex_key = "7d8a4b" * 8
    key = {
        "start": character + hex_key,
        "middle": hex_key[:5] + character + hex_key[5:],
        "end": hex_key + character,
    }[where]
    problem = f"modified_value holds a control character (U+{code})"

    assert key_problem(key) == problem
    assert record_problem(PiiRecord(modified_value=key, original_value="v")) == problem


@pytest.mark.parametrize(
    "key",
    ["with space", "non\u00a0breaking", "zero\u200bwidth", "emoji🙂", "unassigned\U000e0fff"],
)
def test_printable_or_merely_unusual_keys_are_accepted(key: str) -> None:
    assert key_problem(key) is None
    assert record_problem(PiiRecord(modified_value=key, original_value="v")) is None
