"""``python -m bench``: run the benchmarks, print one table, write the figures as JSON.

python -m bench                      # every row; a few minutes
python -m bench --quick              # tiny sizes, one short round: checks the harness
python -m bench --only unary,bulk --rounds 7 --seconds 3
python -m bench --only unary --profile   # and py-spy profiles of the server paths
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from bench import audit_rows, encryption_rows, relay_rows, server_rows
from bench.harness import Bench, Sizes
from bench.load import pick
from bench.procs import ROOT, Cores, Processes
from bench.profiling import profile
from bench.reference_server import generate
from bench.results import Row, table

ROWS: dict[str, Callable[[Bench], list[Row]]] = {
    "unary": server_rows.unary,
    "workers": server_rows.workers,
    "bulk": server_rows.bulk,
    "audit": server_rows.audit,
    "encryption": encryption_rows.encryption,
    "storage-costs": encryption_rows.storage_costs,
    "relay-parse": relay_rows.parse,
    "relay-handler": relay_rows.handler,
    "dynamodb": relay_rows.dynamodb,
    "audit-capacity": audit_rows.capacity,
}
ALIASES = {
    "unary-floor": "unary",
    "unary-metrics": "unary",
    "bulk-create": "bulk",
    "bulk-read": "bulk",
    "relay-memory": "relay-handler",
    "audit-single": "audit-capacity",
    "audit-bulk": "audit-capacity",
    "audit-partition": "audit-capacity",
    "encryption-unary": "encryption",
    "encryption-bulk-create": "encryption",
    "encryption-bulk-read": "encryption",
    "kms-calls": "storage-costs",
    "write-units": "storage-costs",
}
RESULTS = ROOT / "bench" / "results"


def _selection(text: str) -> list[str]:
    names = [ALIASES.get(n.strip(), n.strip()) for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(ROWS)}")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one short round")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per row (default 5)")
    parser.add_argument("--seconds", type=float, help="seconds per measurement (default 2)")
    parser.add_argument(
        "--only", type=_selection, action="extend", metavar="NAME[,NAME]",
        help=f"rows to run: {', '.join(ROWS)}",
    )  # fmt: skip
    parser.add_argument(
        "--load", choices=("auto", "h2load", "clients"), default="auto",
        help="h2load, grpcio client processes, or h2load when installed (default)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="py-spy the server paths too")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="output")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.seconds = args.seconds or (0.3 if args.quick else 2.0)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds and --seconds must be positive")
    return args


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def revision() -> str:
    """The commit measured, with ``+changes`` when src/ differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "src") else "")


def _terminate(signum: int, frame: object) -> NoReturn:
    sys.exit(128 + signum)  # unwinds, so every process the run started is stopped


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "revision": revision(),
        "machine": machine(),
        "options": {"rounds": args.rounds, "seconds": args.seconds, "quick": args.quick},
    }
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="piinguin-bench-") as tmp,
        Processes(Path(tmp)) as procs,
    ):
        workdir = Path(tmp)
        cores = Cores.split(1)
        load = pick(args.load, procs, cores.load, workdir)
        bench = Bench(
            procs, workdir, cores, load, args.rounds, args.seconds,
            Sizes.quick() if args.quick else Sizes(), generate(workdir / "reference"),
        )  # fmt: skip
        report |= {"load": load.description, "cores": cores.describe()}
        m = report["machine"]
        print(f"machine: {m['nproc']} cores ({m['cpu']}), Python {m['python']}")
        print(f"revision: {report['revision']}")
        print(f"load: {load.description}; {cores.describe()}")
        print(f"{args.rounds} interleaved rounds of {args.seconds:g} s per measurement\n")
        for name in dict.fromkeys(args.only or ROWS):
            print(f"{name}...", end=" ", flush=True)
            row_started = time.monotonic()
            try:
                rows += ROWS[name](bench)
            except Exception as exc:  # noqa: BLE001  (one broken row must not hide the others)
                rows.append(Row(name, name, "", "", None, status="error", notes=str(exc)))
            print(f"{time.monotonic() - row_started:.1f} s", flush=True)
        report["rows"] = [row.as_json() for row in rows]
        print("\n" + table(rows) + "\n")
        if args.profile:
            RESULTS.mkdir(parents=True, exist_ok=True)
            report["profiles"] = profile(bench, RESULTS)
            print("\n".join(report["profiles"]))
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    report = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {args.json} ({report['seconds']} s)")
    return 1 if any(row["status"] == "error" for row in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
