"""The benchmark harness in quick mode (tiny sizes, one short round, the grpcio fallback
load instead of h2load), so it cannot silently rot: every row comes out with real
numbers, and nothing it started outlives it. The full run is ``make bench``."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Rows with no goal: figures to read, not to pass or fail.
INFORMATIONAL = {"unary-floor", "write-units"}
ROWS = {
    "unary",
    "unary-floor",
    "unary-metrics",
    "workers",
    "bulk-create",
    "bulk-read",
    "audit",
    "relay-parse",
    "relay-handler",
    "relay-memory",
    "dynamodb",
    "audit-single",
    "audit-bulk",
    "audit-partition",
    "encryption-unary",
    "encryption-bulk-create",
    "encryption-bulk-read",
    "kms-calls",
    "write-units",
}


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _expected_unavailable() -> set[str]:
    """Rows whose feature or benchmark-only dependency is missing here, and only those."""
    unavailable = set()
    server_help = subprocess.run(
        [Path(sys.executable).parent / "piinguin-server", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "--workers" not in server_help:
        unavailable.add("workers")
    if importlib.util.find_spec("relay.handler") is None:
        unavailable |= {"relay-handler", "relay-memory"}
    if importlib.util.find_spec("snowplow_analytics_sdk") is None:
        unavailable.add("relay-parse")
    return unavailable


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.socket
def test_quick_run_reports_every_row_with_real_numbers(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--load", "clients", "--seconds", "0.2",
         "--json", str(output)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # the run's work folder, to find strays
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    assert _processes_mentioning(str(tmp_path)) == []
    report = json.loads(output.read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert set(rows) == ROWS
    assert "fallback" in report["load"]
    unavailable = _expected_unavailable()
    for name, row in rows.items():
        if name in unavailable:
            assert row["status"] == "not available", row
            continue
        assert row["status"] == "ok", row
        assert _positive(row["value"]), row
        if name in INFORMATIONAL:
            assert row["goal"] is None, row
            assert row["passed"] is None, row
            assert row["notes"], row  # says what the row shows
        else:
            assert isinstance(row["passed"], bool), row
        if row["reference"] is not None:
            assert _positive(row["reference"]), row
            assert _positive(row["ratio"]), row
            assert row["rounds"], row
    assert all(
        rows[n]["reference"] is not None
        for n in ROWS - unavailable - {"relay-handler", "relay-memory"}
    )
    for name in ROWS - unavailable:
        assert rows[name]["figure"] in run.stdout  # the printed table
    # The floor is measured in the same rounds as the unary row, against the same reference.
    assert len(rows["unary-floor"]["rounds"]) == len(rows["unary"]["rounds"])
    assert [r[1] for r in rows["unary-floor"]["rounds"]] == [r[1] for r in rows["unary"]["rounds"]]
    # Metrics on is measured in the same rounds against the unary row's Piinguin (off).
    assert [r[1] for r in rows["unary-metrics"]["rounds"]] == [
        r[0] for r in rows["unary"]["rounds"]
    ]
