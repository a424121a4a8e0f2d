"""``piinguin``: the operator's command line for a Piinguin server.

    piinguin [--target HOST:PORT] [--timeout SECONDS] [--token TOKEN] [--tls] COMMAND ...

Connection options come before the command; each has a ``PIINGUIN_*`` environment
equivalent. Errors are one line on stderr, ``piinguin: <what went wrong>``, and never
contain an original value.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import ssl
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from piinguin.cli.commands import Streams, add_commands
from piinguin.cli.exit_codes import EXIT_CODES_HELP, EXIT_USAGE, describe, exit_code
from piinguin.cli.subject import add_subject_commands
from piinguin.cli.subject_erase import add_erase_commands
from piinguin.cli.subject_restrict import add_restriction_commands
from piinguin.client import PiinguinClient, PiinguinError, parse_target
from piinguin.options import Option, OptionError, build_parser, resolve
from piinguin.tls import client_context


def _target(text: str) -> str:
    parse_target(text)
    return text


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError as exc:
        raise ValueError(f"expected a number of seconds, got {text!r}") from exc
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"expected a positive number of seconds, got {text!r}")
    return seconds


DESCRIPTION = "Store, read and delete records in a Piinguin vault."
OPTIONS: tuple[Option, ...] = (
    Option("--target", "the server, as host:port or [ipv6]:port", "127.0.0.1:50051", _target),
    Option("--timeout", "seconds each call may take", 10.0, _seconds),
    Option("--token", "bearer token sent with every call; prefer the environment variable"),
    Option(
        "--tls",
        "connect over TLS, checking the server against the system's CAs (or --tls-ca)",
        default=False,
        is_switch=True,
    ),
    Option("--tls-ca", "PEM CA bundle to check the server against; implies --tls"),
    Option("--tls-cert", "PEM client certificate for mutual TLS; implies --tls"),
    Option("--tls-key", "PEM private key of --tls-cert"),
)


def _ssl(settings: Mapping[str, Any]) -> ssl.SSLContext | bool:
    if not (settings["tls_ca"] or settings["tls_cert"]):
        return bool(settings["tls"])
    if bool(settings["tls_cert"]) != bool(settings["tls_key"]):
        raise OptionError("--tls-key", "give both --tls-cert and --tls-key")
    try:
        return client_context(settings["tls_ca"], settings["tls_cert"], settings["tls_key"])
    except OSError as exc:
        raise OptionError("--tls-ca", f"cannot load TLS files ({exc.strerror or exc})") from exc


def _parser() -> argparse.ArgumentParser:
    parser = build_parser("piinguin", DESCRIPTION, OPTIONS)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_commands(commands)
    subjects = add_subject_commands(commands)
    add_erase_commands(subjects)
    add_restriction_commands(subjects)
    return parser


async def main(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command and return its exit code."""
    streams = Streams(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        # argparse has printed the usage and what is wrong (or the help, for --help).
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        settings = resolve(OPTIONS, args, environ)
        client = PiinguinClient(
            settings["target"],
            timeout=settings["timeout"],
            ssl=_ssl(settings),
            token=settings["token"] or None,  # PIINGUIN_TOKEN= means no token
        )
    except ValueError as exc:  # OptionError included: it names the flag
        streams.fail(str(exc))
        return EXIT_USAGE
    try:
        async with client:
            code: int = await args.run(client, args, streams)
    except PiinguinError as exc:
        streams.fail(describe(exc))
        return exit_code(exc)
    return code


def run() -> None:
    try:
        code = asyncio.run(main(sys.argv[1:], os.environ))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
