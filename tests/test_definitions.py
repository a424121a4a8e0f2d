"""Constants and helpers that were once copied between modules are defined once in src/."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


DEFINED = Counter(
    name
    for path in SRC.rglob("*.py")
    if "_generated" not in path.parts
    for name in _module_level_names(path)
)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        # The merged ones, where they now live.
        ("LAWFUL_BASES", 1),  # piinguin.v1
        ("STATUS_NAMES", 1),  # piinguin.logs
        ("LOG_LEVELS", 1),  # piinguin.logs
        ("invalid_argument", 1),  # piinguin.services.validation
        ("storage_failure", 1),  # piinguin.stored
        # What a record may hold: piinguin.limits, for the server, the relay and the CLI.
        ("key_problem", 1),
        ("record_problem", 1),
        ("MAX_ORIGINAL_BYTES", 1),
        ("MAX_PROVENANCE_CHARS", 1),
        ("MAX_PURPOSE_CHARS", 1),
        # The API's key limit, and storage's own (the backends'), which a test keeps it within.
        ("MAX_KEY_BYTES", 2),
        # The copies they replace.
        ("BASES", 0),
        ("_CODE_NAMES", 0),
        ("_invalid", 0),
    ],
)
def test_a_merged_constant_or_helper_has_one_definition(name: str, count: int) -> None:
    assert DEFINED[name] == count
