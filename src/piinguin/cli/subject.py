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
import json
import os
from pathlib import Path
from typing import Any

import betterproto2

from piinguin.cli.commands import Commands, Streams, parse_basis
from piinguin.cli.exit_codes import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from piinguin.client import PiinguinClient, Value
from piinguin.limits import control_character_problem
from piinguin.v1 import SubjectRecord

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


def _moment(record: SubjectRecord, name: str) -> str:
    moment = getattr(record, name)
    return moment.isoformat() if moment is not None else "-"


def _line(record: SubjectRecord) -> str:
    columns = (
        record.modified_value,
        record.field_name or "-",
        record.app_id or "-",
        _moment(record, "created_at"),
        _moment(record, "updated_at"),
        ",".join(record.found_by),
        "restricted" if record.restricted else "-",
    )
    return "\t".join(columns)


FIND_COLUMNS = "PSEUDONYM  FIELD  APP_ID  FIRST_SEEN  LAST_SEEN  FOUND_BY  RESTRICTED"


async def find(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        values, keys = await person(args, streams)
    except PersonError as exc:
        streams.fail(f"subject find: {exc}")
        return EXIT_USAGE
    found = await client.find_subject(
        values=values, modified_values=keys, basis=args.basis, purpose=args.purpose
    )
    if args.json:
        answer: dict[str, Any] = {
            "records": [
                r.to_dict(casing=betterproto2.Casing.SNAKE, include_default_values=True)
                for r in found.records
            ],
            "unreadable": found.unreadable,
            "complete": found.complete,
        }
        print(json.dumps(answer), file=streams.stdout)
    else:
        for record in found.records:
            print(_line(record), file=streams.stdout)
    for key in found.unreadable:
        streams.fail(f"{key}: a candidate that cannot be opened to confirm it (damaged)")
    if not found.complete:
        streams.fail(
            "the server can look values up neither by index nor by salts: only pseudonyms "
            "named with --pseudonym can be found"
        )
    return EXIT_OK if found.records else EXIT_NOT_FOUND


def export_text(document: dict[str, Any]) -> str:
    """The export document for a person to read: each record, its original value and
    provenance, then who accessed it; then the recipients. ``--json`` prints the document."""
    lines: list[str] = []
    for record in document.get("records", []):
        where = ", ".join(
            f"{name} {record[key]}"
            for name, key in (("field", "field_name"), ("app", "app_id"), ("path", "json_path"))
            if record.get(key)
        )
        lines.append(f"{record.get('original_value', '')}  ({where or 'no provenance'})")
        lines.append(f"  pseudonym     {record.get('modified_value', '')}")
        lines.append(
            f"  first seen    {record.get('first_seen') or '-'}   last seen "
            f"{record.get('last_seen') or '-'}   expires {record.get('expires_at') or 'never'}"
            + ("   RESTRICTED" if record.get("restricted") else "")
        )
        access = record.get("access", [])
        lines.append(f"  accessed      {len(access)} time(s)")
        lines.extend(
            f"    {event.get('time', '')}  {event.get('principal') or '(unauthenticated)'}"
            f"  {event.get('operation', '')} {event.get('code', '')}"
            f"  basis {event.get('lawful_basis', '')}  purpose {event.get('purpose', '')!r}"
            for event in access
        )
        if record.get("access_complete") is False:
            lines.append("    (history cut short: more events than one export reads)")
    recipients = document.get("recipients", [])
    lines.append(f"recipients    {len(recipients)}")
    lines.extend(
        f"  {r.get('principal', '')}: {r.get('disclosures', 0)} disclosure(s),"
        f" {r.get('first', '')} to {r.get('last', '')}"
        for r in recipients
    )
    if document.get("unreadable"):
        lines.append(f"unreadable    {', '.join(document['unreadable'])}")
    if document.get("complete") is False:
        lines.append("incomplete: this server cannot look values up; name pseudonyms")
    return "\n".join(lines) + "\n"


def _write_new(path: Path, text: str, force: bool) -> None:
    """``text`` into ``path``, readable by its owner alone; refuses an existing file
    unless ``force``."""
    # O_NOFOLLOW: --force replaces a file, never writes originals through a symlink
    # planted where the export goes.
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if force else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        # An existing file keeps its mode through O_TRUNC: an export is never group-readable.
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


async def export(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        values, keys = await person(args, streams)
    except PersonError as exc:
        streams.fail(f"subject export: {exc}")
        return EXIT_USAGE
    output: Path | None = args.output
    # Checked first as well: an export refused here is not made (and audited) for nothing.
    if output is not None and not args.force and await asyncio.to_thread(output.exists):
        streams.fail(f"subject export: {output} exists; give --force to replace it")
        return EXIT_USAGE
    document = await client.export_subject(
        values=values, modified_values=keys, basis=args.basis, purpose=args.purpose
    )
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        streams.stdout.write(text if args.json else export_text(document))
        return EXIT_OK
    try:
        await asyncio.to_thread(_write_new, output, text, args.force)
    except FileExistsError:
        streams.fail(f"subject export: {output} exists; give --force to replace it")
        return EXIT_USAGE
    except OSError as exc:
        streams.fail(f"subject export: cannot write {output}: {exc.strerror or exc}")
        return EXIT_USAGE
    return EXIT_OK


def add_subject_commands(commands: Commands) -> Commands:
    """The ``subject`` group, with find and export; returns its subcommands, for the
    other subject modules to add theirs to."""
    summary = (
        "act on a data subject's records (GDPR Art. 15-18), the person named by VALUE "
        "arguments (or stdin) and --pseudonym: find, export, ..."
    )
    group = commands.add_parser(
        "subject", help=summary, description=summary[0].upper() + summary[1:]
    )
    subcommands = group.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)

    p = subcommands.add_parser(
        "find",
        help="list the pseudonyms stored for a person, with provenance, never the originals",
        description="List the pseudonyms stored for a person, one line each: "
        + FIND_COLUMNS
        + ". Exit 1 when none is found.",
    )
    add_person_options(p)
    p.set_defaults(run=find)

    p = subcommands.add_parser(
        "export",
        help="everything held about a person (GDPR Art. 15), original values included",
        description="Everything held about a person, original values and access history "
        "included: readable on stdout, the JSON document (README, 'Export') with --json, "
        "or the document in a new file readable by its owner alone with --output.",
    )
    add_person_options(p)
    p.add_argument(
        "--output", type=Path, metavar="FILE", help="write the document to FILE (mode 0600)"
    )
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(run=export)
    return subcommands
