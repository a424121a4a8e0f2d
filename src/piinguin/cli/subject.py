"""``piinguin subject ...``: the data-subject rights (GDPR Art. 15-18) on the command line.

Every subcommand names the person the same way (``add_person_options``, ``person``):
values they know as arguments (``-`` reads one from stdin, so that it stays out of the
shell's history and of ``ps``), optionally narrowed to one ``--field``, and pseudonyms
already known with ``--pseudonym``; and states a ``--basis`` and a ``--purpose``.
Subcommands live in their own modules and register on the subcommands that
``add_subject_commands`` returns (``cli.main`` passes them on).
"""

from __future__ import annotations

import argparse
import asyncio

from piinguin.cli.commands import Commands, Streams, parse_basis
from piinguin.client import Value
from piinguin.limits import control_character_problem

STDIN = "-"


class PersonError(ValueError):
    """The person is not named usably; the message never repeats a value."""


def add_person_options(parser: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    """The arguments naming a person and justifying the act, shared by every subcommand;
    ``json_output`` adds ``--json``."""
    parser.add_argument(
        "values",
        nargs="*",
        metavar="VALUE",
        help="an original value the person knows, e.g. an e-mail address; - reads one from "
        "stdin (keeps it out of shell history and ps)",
    )
    parser.add_argument(
        "--field", default="", metavar="NAME", help="only records of this field, e.g. user_id"
    )
    parser.add_argument(
        "--pseudonym",
        action="append",
        default=[],
        metavar="KEY",
        help="a pseudonym already known (repeatable)",
    )
    parser.add_argument(
        "--basis", required=True, type=parse_basis, metavar="BASIS", help="the lawful basis"
    )
    parser.add_argument(
        "--purpose", required=True, help='why, e.g. "access request DSR-17"; the audit log keeps it'
    )
    if json_output:
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")


async def person(args: argparse.Namespace, streams: Streams) -> tuple[list[Value], list[str]]:
    """The values (each with ``--field``) and pseudonyms ``add_person_options`` parsed,
    ``-`` read from stdin; ``PersonError`` when none is given or one is unusable."""
    texts: list[str] = args.values
    if texts.count(STDIN) > 1:
        raise PersonError("give - at most once: stdin holds one value")
    if not texts and not args.pseudonym:
        raise PersonError("name the person: give a VALUE, - (a value on stdin) or --pseudonym")
    values: list[Value] = []
    for position, argument in enumerate(texts, 1):
        text = argument
        if argument == STDIN:
            read = await asyncio.to_thread(streams.stdin.read)
            text = read.removesuffix("\n").removesuffix("\r")
        if not text.strip():
            raise PersonError(f"value {position} is empty")
        values.append(Value(text, args.field))
    for key in args.pseudonym:
        problem = control_character_problem(key)
        if problem is not None:
            raise PersonError(f"--pseudonym: {problem}")
    return values, list(args.pseudonym)


def add_subject_commands(commands: Commands) -> Commands:
    """The ``subject`` group; returns its subcommands, for the subject modules to add
    theirs to."""
    summary = "a data subject's rights (GDPR Art. 15-18): restrict, unrestrict, ..."
    group = commands.add_parser(
        "subject", help=summary, description=summary[0].upper() + summary[1:]
    )
    return group.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)
