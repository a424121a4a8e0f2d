"""Dependencies run one way: CLI -> client; server -> services -> access -> storage; the relay
uses the client alone. Read from the source with ``ast``, nothing imported, so an import
inside a function or under ``TYPE_CHECKING`` counts as much as one at the top.

A plain test rather than import-linter: the rules are a handful of prefixes, the failure
names the file, line and import, and it needs no tool beyond pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parents[1] / "src"

#: (importer, what it must not import): each a package, its modules included.
FORBIDDEN = [
    ("piinguin.client", "piinguin.server"),
    ("piinguin.client", "piinguin.services"),
    ("piinguin.client", "piinguin.access"),
    ("piinguin.cli", "piinguin.server"),
    ("piinguin.cli", "piinguin.services"),
    ("piinguin.cli", "piinguin.access"),
    ("storage", "piinguin"),
    ("storage", "relay"),
    ("relay", "piinguin.server"),
    ("relay", "piinguin.services"),
    ("relay", "piinguin.access"),
    ("relay", "storage"),
    ("piinguin.access", "piinguin.server"),
    ("piinguin.access", "piinguin.services"),
    ("piinguin.services", "piinguin.server"),
    # What a record may hold is shared by the server, the relay and the CLI: it leans on none.
    ("piinguin.limits", "piinguin"),
    ("piinguin.limits", "storage"),
]

#: The flat core of shared concepts stays small; everything else lives in a subpackage.
MAX_TOP_LEVEL_MODULES = 12


class Import(NamedTuple):
    path: Path
    line: int
    importer: str
    imported: str


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(root: Path) -> Iterator[Import]:
    """Every import of every module under ``root``, relative ones resolved. ``from a import
    b`` yields ``a`` and ``a.b``, since ``b`` may be a module."""
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(path, node.lineno, name, alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    origin = ".".join([*base, node.module] if node.module else base)
                else:
                    origin = node.module or ""
                yield Import(path, node.lineno, name, origin)
                for alias in node.names:
                    yield Import(path, node.lineno, name, f"{origin}.{alias.name}")


def violations(root: Path) -> list[str]:
    found = set()
    for imp in imports(root):
        for importer, banned in FORBIDDEN:
            if within(imp.importer, importer) and within(imp.imported, banned):
                where = imp.path.relative_to(root.parent)
                found.add(
                    f"{where}:{imp.line}: {imp.importer} imports {imp.imported} "
                    f"({importer} must not import {banned})"
                )
    return sorted(found)


def test_dependencies_point_one_way() -> None:
    assert violations(SRC) == []


def test_the_flat_core_of_piinguin_stays_small() -> None:
    modules = sorted(p.name for p in (SRC / "piinguin").glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def test_a_forbidden_import_is_named_with_its_place(tmp_path: Path) -> None:
    """The checker itself: it sees absolute, relative, lazy and ``from a import b`` imports."""
    files = {
        "piinguin/__init__.py": "",
        "piinguin/client/__init__.py": "from piinguin import server\n",
        "piinguin/client/calls.py": "def f():\n    from ..services import vault\n",
        "piinguin/access/gate.py": "import piinguin.server.core\n",
        "relay/writer.py": "from piinguin.client import PiinguinClient\n",  # allowed
        "storage/records.py": "from relay.extract import Pair\n",
    }
    for name, text in files.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text(text)

    found = violations(tmp_path / "src")

    assert found == [
        "src/piinguin/access/gate.py:1: piinguin.access.gate imports piinguin.server.core "
        "(piinguin.access must not import piinguin.server)",
        "src/piinguin/client/__init__.py:1: piinguin.client imports piinguin.server "
        "(piinguin.client must not import piinguin.server)",
        "src/piinguin/client/calls.py:2: piinguin.client.calls imports piinguin.services "
        "(piinguin.client must not import piinguin.services)",
        "src/piinguin/client/calls.py:2: piinguin.client.calls imports piinguin.services.vault "
        "(piinguin.client must not import piinguin.services)",
        "src/storage/records.py:1: storage.records imports relay.extract "
        "(storage must not import relay)",
        "src/storage/records.py:1: storage.records imports relay.extract.Pair "
        "(storage must not import relay)",
    ]
