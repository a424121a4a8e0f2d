"""The relay's Lambda deployment zip: ``make lambda`` (``python -m tools.package_relay OUT.zip``).

The zip holds what ``relay.handler`` imports, and nothing else:

- the first-party modules it loads, found by importing it in a fresh interpreter, so the
  zip follows the code (the server, the storage package and aioboto3 stay out);
- the third-party distributions they come from, at the versions ``constraints.txt`` pins
  (the ones the tests ran with, shared with the server image), installed by pip for
  Lambda's runtime: CPython 3.11 on manylinux2014 x86_64, wheels only. This needs PyPI (or
  the index pip is configured with).

The archive is reproducible: sorted entries, fixed timestamps, no ``__pycache__``.
Not part of the Lambda itself: it is left out of the zip.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import packages_distributions
from pathlib import Path

from tools.constraints import LOCK

ENTRY_POINT = "relay.handler"
FIRST_PARTY = ("relay", "piinguin")
RUNTIME = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
)
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_PROBE = """
import json, sys
import {entry}
print(json.dumps({{name: getattr(m, "__file__", None) for name, m in sys.modules.items()}}))
"""


def imported_modules(entry_point: str = ENTRY_POINT) -> dict[str, str | None]:
    """Every module a fresh interpreter holds once ``entry_point`` is imported, with its
    file (``None`` for built-in ones)."""
    result = subprocess.run(  # noqa: S603  (this interpreter, our own probe)
        [sys.executable, "-c", _PROBE.format(entry=entry_point)],
        capture_output=True,
        text=True,
        check=True,
    )
    modules: dict[str, str | None] = json.loads(result.stdout)
    return modules


def first_party_files(modules: Mapping[str, str | None]) -> dict[str, Path]:
    """Zip path -> source file of every first-party module among ``modules``."""
    files = {}
    for name, file in modules.items():
        if name.split(".")[0] in FIRST_PARTY and file is not None:
            path = Path(file)
            relative = Path(*name.split("."))
            relative = relative / path.name if path.name == "__init__.py" else relative
            files[str(relative.with_suffix(".py"))] = path
    return files


def providers(modules: Iterable[str], distributions: Mapping[str, list[str]]) -> set[str]:
    """The distributions (canonical names) that provide ``modules``."""
    return {
        _canonical(dist)
        for module in {m.split(".")[0] for m in modules}
        for dist in distributions.get(module, [])
    }


def requirements(dependencies: Sequence[str], provided: set[str]) -> list[str]:
    """The ``dependencies`` (requirement strings) among the ``provided`` distributions:
    what the imported code needs, as the project pins it. Distributions they depend on
    come with them; optional ones this environment happens to hold (pydantic, which
    betterproto2 uses when present) do not."""
    return [spec for spec in dependencies if _canonical(_name(spec)) in provided]


def build(out: Path, *, pip_args: Sequence[str] = ()) -> list[str]:
    """Write the zip to ``out``; the requirements installed into it."""
    modules = imported_modules()
    provided = providers(modules, packages_distributions())
    dependencies = tomllib.loads(_PYPROJECT.read_text())["project"]["dependencies"]
    needed = requirements(dependencies, provided)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "package"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        # --no-warn-conflicts: pip would compare the target with this environment.
        pip += ["--no-warn-conflicts", "--target", str(root), "--constraint", str(LOCK)]
        subprocess.run([*pip, *RUNTIME, *pip_args, *needed], check=True)  # noqa: S603
        shutil.rmtree(root / "bin", ignore_errors=True)  # console scripts, of no use
        for relative, source in first_party_files(modules).items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / relative)
        out.parent.mkdir(parents=True, exist_ok=True)
        _zip(root, out)
    return needed


def _zip(root: Path, out: Path) -> None:
    paths = sorted(
        p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(root).parts
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in paths:
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=_EPOCH)
            info.external_attr = (0o755 if path.suffix == ".so" else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    if match is None:
        raise ValueError(f"not a requirement: {spec!r}")
    return match.group(0)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.package_relay", description=__doc__)
    parser.add_argument("out", type=Path, help="the zip to write")
    args = parser.parse_args(argv)
    needed = build(args.out)
    with zipfile.ZipFile(args.out) as archive:
        size = sum(i.file_size for i in archive.infolist())
        count = len(archive.infolist())
    print(
        f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB zipped, {size / 1e6:.1f} MB "
        f"unzipped, {count} files; {', '.join(needed)} and the relay"
    )


if __name__ == "__main__":
    main()
