"""``piinguin-healthcheck``: exit 0 when the server reports SERVING, 1 otherwise.

For container health checks and probes where grpcurl or grpc_health_probe are not at hand.
It prints the status (``SERVING``, ``NOT_SERVING``, ...), or on stderr one sentence saying
why there is none.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from piinguin.client import PiinguinClient, PiinguinError
from piinguin.options import build_parser

DEFAULT_TARGET = "127.0.0.1:50051"
DESCRIPTION = (
    "Ask a Piinguin server for its gRPC health: print the status and exit 0 when it is"
    " SERVING, 1 otherwise (not serving, unreachable, no answer in time)."
)


async def check(target: str, *, timeout: float = 3.0) -> str:  # noqa: ASYNC109  (a gRPC deadline, sent to the server)
    """The health status ``target`` reports; raises ``PiinguinError`` when there is none."""
    async with PiinguinClient(target, timeout=timeout) as client:
        return await client.health()


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = build_parser("piinguin-healthcheck", DESCRIPTION, ())
    parser.add_argument(
        "target",
        nargs="?",
        default=DEFAULT_TARGET,
        metavar="TARGET",
        help=f"the server, as host:port or [ipv6]:port (default: {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=3.0, help="seconds to wait for the answer (default: 3)"
    )
    return parser


def run(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        status = asyncio.run(check(args.target, timeout=args.timeout))
    except ValueError as exc:  # the target is not host:port
        sys.exit(f"piinguin-healthcheck: error: {exc}")
    except PiinguinError as exc:  # "cannot reach HOST:PORT: Connection refused" and the like
        where = "" if args.target in exc.message else f"{args.target}: "
        sys.exit(f"piinguin-healthcheck: {where}{exc.message}")
    print(status)
    sys.exit(0 if status == "SERVING" else 1)
