"""storage.frozen's builders make the instance the constructor makes, still frozen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from storage import Record
from storage.audit import KeyOutcome
from storage.frozen import builder

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
VALUES = ("k", "v", "f", "$.j", "iglu:s", "SHA-256", "app", MOMENT, MOMENT, None)


def test_a_built_record_is_the_constructed_one() -> None:
    built = builder(Record)(*VALUES)

    assert type(built) is Record
    assert built == Record(*VALUES)
    assert dataclasses.astuple(built) == VALUES
    assert hash(built) == hash(Record(*VALUES))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.original_value = "changed"  # type: ignore[misc]


def test_a_built_key_outcome_is_the_constructed_one() -> None:
    assert builder(KeyOutcome)("k", 5) == KeyOutcome("k", 5)


def test_every_field_is_required() -> None:
    with pytest.raises(TypeError):
        builder(Record)(*VALUES[:-1])


@dataclasses.dataclass(frozen=True)
class Unslotted:
    a: int


@dataclasses.dataclass(slots=True)
class Mutable:
    a: int


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True, slots=True)
class KeywordOnly:
    a: int = dataclasses.field(kw_only=True)


@pytest.mark.parametrize("cls", [Unslotted, Mutable, Checked, KeywordOnly, int])
def test_only_plain_frozen_slotted_dataclasses_get_a_builder(cls: type) -> None:
    with pytest.raises(TypeError):
        builder(cls)
