"""The Makefile: what its targets would run (``make -n``, which runs nothing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str) -> list[str]:
    """The commands ``make TARGET`` runs on a machine where nothing is set up yet."""
    result = subprocess.run(
        ["make", "--no-print-directory", "--dry-run", "--always-make", target],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_make_run_installs_the_server_alone_at_the_locked_versions() -> None:
    installs = [line for line in dry_run("run") if "pip install" in line]
    assert installs[-1].endswith("--constraint constraints.txt -e .")
    assert not [line for line in installs if "[" in line]  # no extra: no dev toolchain


def test_make_test_installs_nothing_outside_the_virtualenv() -> None:
    commands = dry_run("test")
    assert not [line for line in commands if "apt-get" in line or "sudo" in line]
    installs = [line for line in commands if "pip install" in line]
    assert installs
    assert all(line.startswith(".venv/bin/python -m pip install") for line in installs)
    assert all("--constraint constraints.txt" in line for line in installs if " -e " in line)
