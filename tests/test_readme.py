"""The README names only files and modules that exist: a moved module fails here, not in a
reader's checkout."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
README = (ROOT / "README.md").read_text()

#: A path into the repository; ``...`` stands for any folders, ``*`` for any name.
PATH = re.compile(r"\b(?:src|tests|bench|tools|protos)/[\w./*-]*")
#: A dotted name of one of our packages, in backticks.
DOTTED = re.compile(r"`((?:piinguin|storage|relay)(?:\.\w+)+)`")

#: Written by a run, git-ignored: absent from a fresh checkout.
OUTPUTS = ("bench/results/",)
#: Dotted names that are not Python's.
NOT_MODULES = {
    "piinguin.audit": "the audit events' logger",
    "piinguin.v1.Piinguin": "the gRPC service's full name",
}


def paths() -> list[str]:
    named = {m.group().rstrip(".") for m in PATH.finditer(README)}
    return sorted(p for p in named if not p.startswith(OUTPUTS))


def exists(path: str) -> bool:
    if "..." in path or "*" in path:
        pattern = path.replace("...", "**").rstrip("/")
        return any(ROOT.glob(pattern))
    return (ROOT / path).exists()


@pytest.mark.parametrize("path", paths())
def test_a_path_the_readme_names_exists(path: str) -> None:
    assert exists(path), f"README.md names {path}, which does not exist"


def top_level_names(module: Path) -> set[str]:
    names = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def module_file(dotted: str) -> Path | None:
    base = SRC.joinpath(*dotted.split("."))
    # .pyi: a C extension's stub, beside its source (storage.crypto._batch).
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base.with_suffix(".pyi")):
        if candidate.is_file():
            return candidate
    return None


def resolves(dotted: str) -> bool:
    """A module, or a name defined at the top of one."""
    if module_file(dotted) is not None:
        return True
    module, _, name = dotted.rpartition(".")
    found = module_file(module)
    return found is not None and name in top_level_names(found)


@pytest.mark.parametrize("name", sorted(set(DOTTED.findall(README)) - NOT_MODULES.keys()))
def test_a_module_the_readme_names_exists(name: str) -> None:
    assert resolves(name), f"README.md names {name}, which is no module or name in src/"


def layout_tree() -> list[str]:
    """The folders of the README's Layout tree, indented ones joined to the one above."""
    section = README.split("## Layout\n", 1)[1]
    block = section.split("```\n", 2)[1]
    folders, parent = [], ""
    for line in block.splitlines():
        name = line.split()[0]
        if not name.endswith("/"):
            continue
        if line.startswith(" "):
            folders.append(parent + name)
        else:
            parent = name
            folders.append(name)
    return folders


def test_the_layout_tree_names_folders_that_exist() -> None:
    missing = [folder for folder in layout_tree() if not (ROOT / folder).is_dir()]
    assert missing == []


def test_the_layout_tree_shows_every_package_under_src() -> None:
    packages = {
        f"{init.parent.relative_to(ROOT)}/"
        for init in SRC.rglob("__init__.py")
        if "_generated" not in init.parent.relative_to(SRC).parts[:-1]  # its own tree
    }
    assert packages - set(layout_tree()) == set()


def test_the_checks_see_what_they_must() -> None:
    assert "tests/test_architecture.py" in paths()
    assert not exists("src/piinguin/server_main.py")
    assert exists("protos/com/.../protocols/")
    assert resolves("relay.handler.handler")
    assert not resolves("piinguin.service")
    assert "src/storage/dynamodb/" in layout_tree()


def relay_section() -> str:
    return README.split("\n## The relay\n", 1)[1].split("\n## ", 1)[0]


def test_the_relay_section_names_every_metric_and_summary_counter() -> None:
    from relay.metrics import UNITS
    from relay.summary import Summary

    section = relay_section()
    empty = Summary(records=0, pii_events=0, other_events=0, malformed={}, pairs=0, unique_keys=0)
    counters = list(empty.as_log())
    missing = [name for name in [*UNITS, *counters] if f"`{name}`" not in section]
    assert missing == []
