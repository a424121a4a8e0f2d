"""The lock file: constraints.txt pins what this environment holds, and the checks built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.constraints import LOCK, closure, main, mismatches, parse, render

FAKE = {
    "piinguin": ("0.1.0", ["grpclib>=0.4", "Betterproto2[GrpcLib]", "ruff; extra == 'dev'"]),
    "grpclib": ("0.4.9", ["h2<5", "winreg-thing; sys_platform == 'win32'"]),
    "betterproto2": ("0.10.0", ["grpclib; extra == 'grpclib'", "pydantic; extra == 'pydantic'"]),
    "h2": ("4.4.1", []),
    "ruff": ("0.8.0", []),
}


def test_the_lock_file_pins_what_is_installed() -> None:
    """make install installs under constraints.txt, so they agree unless a dependency was
    added or upgraded without `make constraints`."""
    assert LOCK.read_text() == render(closure()), "constraints.txt is stale: run make constraints"


def test_the_lock_file_pins_every_runtime_dependency_at_its_installed_version() -> None:
    runtime = closure("piinguin")
    assert {"grpclib", "betterproto2", "structlog", "aioboto3", "botocore"} <= set(runtime)
    lock = parse(LOCK.read_text())
    assert {name: lock.get(name) for name in runtime} == runtime


def test_closure_follows_requested_extras_and_this_platforms_markers() -> None:
    assert closure("piinguin", lookup=FAKE.__getitem__) == {
        "grpclib": "0.4.9",
        "betterproto2": "0.10.0",
        "h2": "4.4.1",
    }
    assert set(closure("piinguin[dev]", lookup=FAKE.__getitem__)) == {
        "grpclib",
        "betterproto2",
        "h2",
        "ruff",
    }


def test_a_freeze_matches_when_it_holds_what_is_needed_at_the_locked_versions() -> None:
    lock = {"grpclib": "0.4.9", "h2": "4.4.1"}
    needed = {"grpclib": "0.4.9"}
    assert mismatches({"grpclib": "0.4.9", "base-image-thing": "1"}, lock, needed) == []
    assert mismatches({"h2": "4.4.2"}, lock, needed) == [
        "grpclib (missing)",
        "h2==4.4.2 (constraints.txt: 4.4.1)",
    ]


def test_parse_reads_pip_freeze_and_the_lock_file_alike() -> None:
    assert parse("# header\nPyYAML==6.0.4\nzope.interface==7.0  # why\n\n") == {
        "pyyaml": "6.0.4",
        "zope-interface": "7.0",
    }
    with pytest.raises(ValueError, match="not a name==version line"):
        parse("pkg @ file:///x\n")


def test_check_freeze_fails_naming_each_distribution_off_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frozen = tmp_path / "freeze.txt"
    lock = parse(LOCK.read_text())
    frozen.write_text("".join(f"{n}=={v}\n" for n, v in lock.items()) + "pip==1\n")
    main(["--check-freeze", str(frozen), "piinguin"])
    assert capsys.readouterr().out.startswith("piinguin: 3")  # some 30 distributions
    frozen.write_text("".join(f"{n}=={v}\n" for n, v in lock.items() if n != "grpclib"))
    with pytest.raises(SystemExit) as stopped:
        main(["--check-freeze", str(frozen), "piinguin"])
    assert str(stopped.value) == "piinguin: not as constraints.txt pins it: grpclib (missing)"
