"""hatch_build.py: a wheel built here carries the C sealer; one built where it cannot be
compiled (the python:3.11-slim image has no compiler) is pure Python, and still builds.

Real wheels, built by pip with the project's own backend (hatchling, from the dev extra,
hence ``--no-build-isolation``: nothing is downloaded) into a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import why_no_c_sealer

REPO = Path(__file__).resolve().parents[1]
EXTENSION = "storage/crypto/_batch" + sysconfig.get_config_var("EXT_SUFFIX")


def build_wheel(tmp_path: Path, **env: str) -> Path:
    out = tmp_path / "wheels"
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    argv += ["--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(REPO)]
    environment = {**os.environ, **env}
    done = subprocess.run(
        argv, capture_output=True, text=True, env=environment, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = out.glob("piinguin-*.whl")
    return wheel


def contents(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_a_wheel_built_with_a_compiler_carries_the_c_sealer(tmp_path: Path) -> None:
    missing = why_no_c_sealer()
    if missing is not None:
        pytest.skip(missing)

    wheel = build_wheel(tmp_path)

    assert EXTENSION in contents(wheel)
    assert not wheel.name.endswith("-py3-none-any.whl")  # tagged for this platform
    assert "storage/crypto/_batch.c" in contents(wheel)  # and its source, for the record


@pytest.mark.parametrize(
    "env",
    [{"CC": "/nonexistent/cc"}, {"PIINGUIN_PURE_PYTHON": "1"}],
    ids=["no-compiler", "asked-for-pure-python"],
)
def test_a_wheel_built_without_it_is_pure_python(tmp_path: Path, env: dict[str, str]) -> None:
    wheel = build_wheel(tmp_path, **env)

    assert wheel.name.endswith("-py3-none-any.whl")
    assert not [name for name in contents(wheel) if name.endswith(".so")]
    assert "storage/crypto/envelope.py" in contents(wheel)


def test_the_server_image_copies_what_the_wheel_build_reads() -> None:
    """The image builds Piinguin's wheel from the files it copies: the hook among them
    (hatchling refuses to build without it: seen in `make e2e`)."""
    copied: set[str] = set()
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copied.update(words[1:-1])

    assert {"pyproject.toml", "README.md", "hatch_build.py", "src"} <= copied
