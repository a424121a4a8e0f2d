"""``piinguin.options``: what every console script's parser has in common."""

from __future__ import annotations

import importlib.metadata

import pytest

SCRIPTS = sorted(
    (entry.name, entry)
    for entry in importlib.metadata.distribution("piinguin").entry_points
    if entry.group == "console_scripts"
)


def test_the_package_declares_the_five_console_scripts() -> None:
    names = [name for name, _ in SCRIPTS]
    assert names == [
        "piinguin",
        "piinguin-admin",
        "piinguin-healthcheck",
        "piinguin-relay",
        "piinguin-server",
    ]


@pytest.mark.parametrize(("name", "entry"), SCRIPTS, ids=[name for name, _ in SCRIPTS])
def test_every_console_script_prints_the_installed_version(
    name: str,
    entry: importlib.metadata.EntryPoint,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.argv", [name, "--version"])

    with pytest.raises(SystemExit) as exited:
        entry.load()()

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"{name} {importlib.metadata.version('piinguin')}\n"
