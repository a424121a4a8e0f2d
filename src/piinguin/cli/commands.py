"""The CLI's commands. Each takes an open client and returns an exit code.

Call-level failures propagate as ``PiinguinError`` to ``cli.main``; per-key failures of
the bulk commands are reported here, one stderr line per key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO, TypeAlias

import betterproto2

from piinguin.cli.exit_codes import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, describe, exit_code
from piinguin.cli.importing import STDIN, create_many, tsv_value
from piinguin.client import (
    ItemResult,
    LawfulBasis,
    PiinguinClient,
    PiiRecord,
    ReadItemResult,
    RestrictionGround,
)
from piinguin.client.errors import Restricted, error_for_status
from piinguin.limits import control_character_problem
from piinguin.logs import STATUS_NAMES
from piinguin.v1 import (
    LAWFUL_BASES,
    RESTRICTION_GROUNDS,
    AuditEvent,
    basis_name,
    ground_name,
)

#: The bases as the CLI spells them, in kebab-case (it accepts snake_case too).
_BASIS_NAMES = ", ".join(name.replace("_", "-") for name in LAWFUL_BASES)
_GROUND_NAMES = ", ".join(RESTRICTION_GROUNDS)
DEFAULT_BATCH_SIZE = 500
#: What the bulk commands read: read-many's output goes straight back in.
BULK_INPUT = (
    "keys on stdin: one per line, or read-many's own output (KEY<TAB>VALUE lines, whose "
    "first column is the key, or --json lines)"
)


class BadInput(ValueError):
    """Bulk input the CLI will not send; the message names the line, never its text."""


@dataclass(frozen=True, slots=True)
class Streams:
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO

    def fail(self, message: str) -> None:
        print(f"piinguin: {message}", file=self.stderr)


def parse_basis(text: str) -> LawfulBasis:
    try:
        return LAWFUL_BASES[text.strip().lower().replace("-", "_")]
    except KeyError as exc:
        raise argparse.ArgumentTypeError(
            f"unknown lawful basis {text!r}: expected one of {_BASIS_NAMES}"
        ) from exc


def parse_ground(text: str) -> RestrictionGround:
    try:
        return RESTRICTION_GROUNDS[text.strip().lower().replace("-", "_")]
    except KeyError as exc:
        raise argparse.ArgumentTypeError(
            f"unknown restriction ground {text!r}: expected one of {_GROUND_NAMES}"
        ) from exc


def _batch_size(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _record_json(record: PiiRecord) -> str:
    fields = record.to_dict(casing=betterproto2.Casing.SNAKE, include_default_values=True)
    return json.dumps(fields, ensure_ascii=False)


async def _read_stdin(streams: Streams) -> str:
    return await asyncio.to_thread(streams.stdin.read)


def _key(text: str) -> str:
    """A KEY argument; one holding a control character is never sent."""
    problem = control_character_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def bulk_keys(text: str) -> list[str]:
    """The keys of bulk input (see ``BULK_INPUT``), in order.

    Lines end at ``\\n`` only (a CRLF's ``\\r`` is dropped), so a value that holds other
    line breaks stays in its line; blank lines are skipped and spaces around a key
    dropped. Anything that is not a key, such as a key with a control character or a
    JSON line without ``modified_value``, is ``BadInput``, and nothing is sent: such a
    "key" could be a value, and would land in the audit log.
    """
    keys = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r")
        if line.startswith("{"):
            key = _json_key(line, number)
        else:
            key, tab, _ = line.partition("\t")
            key = key.strip(" ")
            if not key:
                if tab:
                    raise BadInput(f"line {number}: no key before the tab")
                if not line.strip(" "):
                    continue
        problem = control_character_problem(key)
        if problem is not None:
            raise BadInput(f"line {number}: {problem}")
        keys.append(key)
    return keys


def _json_key(line: str, number: int) -> str:
    try:
        document = json.loads(line)
    except ValueError:
        document = None
    key = document.get("modified_value") if isinstance(document, dict) else None
    if not isinstance(key, str):
        raise BadInput(
            f"line {number}: starts with '{{' but is not a JSON object with a modified_value"
        )
    return key


async def _read_keys(streams: Streams) -> list[str]:
    return bulk_keys(await _read_stdin(streams))


def _batches(keys: Sequence[str], size: int) -> list[Sequence[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _report(key: str, result: ItemResult, streams: Streams) -> int:
    restricted = isinstance(result, ReadItemResult) and result.restricted
    error = (
        Restricted(result.message)
        if restricted
        else error_for_status(result.status, result.message)
    )
    streams.fail(f"{key}: {describe(error)}")
    return exit_code(error)


# -- the commands -------------------------------------------------------------------------


async def create(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    value: str = args.value
    if value == "-":
        value = (await _read_stdin(streams)).removesuffix("\n").removesuffix("\r")
    record = PiiRecord(
        modified_value=args.key,
        original_value=value,
        field_name=args.field_name,
        json_path=args.json_path,
        schema=args.schema,
        hash_function=args.hash_function,
        app_id=args.app_id,
    )
    await client.create_record(record)
    return EXIT_OK


async def read(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    record = await client.read_record(
        args.key,
        basis=args.basis,
        purpose=args.purpose,
        restriction_ground=args.restriction_ground,
    )
    print(_record_json(record) if args.json else record.original_value, file=streams.stdout)
    return EXIT_OK


async def delete(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    await client.delete_record(args.key)
    return EXIT_OK


async def read_many(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        keys = await _read_keys(streams)
    except BadInput as exc:
        streams.fail(f"{exc}; nothing was read")
        return EXIT_USAGE
    code = EXIT_OK
    for batch in _batches(keys, args.batch_size):
        results = await client.read_records(
            batch,
            basis=args.basis,
            purpose=args.purpose,
            restriction_ground=args.restriction_ground,
        )
        for key, result in zip(batch, results, strict=True):
            if result.record is None:
                code = max(code, _report(key, result, streams))
            elif args.json:
                print(_record_json(result.record), file=streams.stdout)
            else:
                print(f"{key}\t{tsv_value(result.record.original_value)}", file=streams.stdout)
    return code


async def delete_many(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        keys = await _read_keys(streams)
    except BadInput as exc:
        streams.fail(f"{exc}; nothing was deleted")
        return EXIT_USAGE
    code = EXIT_OK
    for batch in _batches(keys, args.batch_size):
        results = await client.delete_records(batch)
        for key, result in zip(batch, results, strict=True):
            if not result.ok:
                code = max(code, _report(key, result, streams))
    return code


# -- their arguments ----------------------------------------------------------------------


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 time such as 2026-11-01T00:00:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status_name(code: int) -> str:
    """A code from a newer server may be one this version does not know: print it as is."""
    return STATUS_NAMES.get(code) or str(code)


def _audit_json(event: AuditEvent) -> str:
    return json.dumps(
        {
            "time": event.time.isoformat() if event.time else None,
            "principal": event.principal,
            "operation": event.operation,
            "code": _status_name(event.code),
            "keys": {k.modified_value: _status_name(k.code) for k in event.keys},
            "lawful_basis": basis_name(event.lawful_basis),
            "purpose": event.purpose,
            "request_id": event.request_id,
            "peer": event.peer,
            "legacy": event.legacy,
            "calls": event.calls,
            "restriction_ground": ground_name(event.restriction_ground),
            "event_id": event.event_id,
        }
    )


async def audit(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    if not (args.key or args.principal or args.since or args.until):
        streams.fail("audit: give at least one of --key, --principal, --since and --until")
        return EXIT_USAGE
    async for event in client.audit_events(
        modified_value=args.key or "",
        principal=args.principal or "",
        since=args.since,
        until=args.until,
    ):
        streams.stdout.write(_audit_json(event) + "\n")
    return EXIT_OK


async def health(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    status = await client.health()
    print(status, file=streams.stdout)
    return EXIT_OK if status == "SERVING" else EXIT_UNAVAILABLE


def _add_justification(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--basis",
        required=True,
        type=parse_basis,
        metavar="BASIS",
        help=f"the GDPR Art. 6 lawful basis: {_BASIS_NAMES}",
    )
    parser.add_argument(
        "--purpose", required=True, help='why the original is needed, e.g. "support ticket 42"'
    )


def _add_restriction_ground(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--restriction-ground",
        type=parse_ground,
        default=RestrictionGround.UNSPECIFIED,
        metavar="GROUND",
        help="to read records restricted at the data subject's request, the GDPR Art. 18(2)"
        f" ground: {_GROUND_NAMES}; the principal's grant needs restricted_reads",
    )


def _add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json", action="store_true", help=f"print {what} as JSON, with its provenance"
    )


def _add_batch_size(parser: argparse.ArgumentParser, items: str = "keys") -> None:
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=DEFAULT_BATCH_SIZE,
        help=f"{items} per call, at most the server's --max-bulk-items"
        f" (default: {DEFAULT_BATCH_SIZE})",
    )


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _command(commands: Commands, name: str, summary: str) -> argparse.ArgumentParser:
    """A command whose one line says what it does and where its input comes from."""
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])


def add_commands(commands: Commands) -> None:
    p = _command(
        commands,
        "create",
        "store one record given as arguments (replaces one under the same key)",
    )
    p.add_argument(
        "key", metavar="KEY", type=_key, help="the pseudonym, e.g. the hash Snowplow wrote"
    )
    p.add_argument("value", metavar="VALUE", help="the original value; - reads it from stdin")
    for flag in ("--field-name", "--json-path", "--schema", "--hash-function", "--app-id"):
        p.add_argument(flag, default="", help="provenance, stored with the record")
    p.set_defaults(run=create)

    p = _command(
        commands,
        "create-many",
        "store records from FILE or stdin: KEY<TAB>VALUE lines, or JSON lines with --json",
    )
    p.add_argument(
        "file",
        nargs="?",
        default=STDIN,
        metavar="FILE",
        help="one record a line; none or - reads stdin. From a file, progress on a terminal"
        " shows the share done and the time left",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="read JSON objects (as read-many --json prints them) instead of KEY<TAB>VALUE",
    )
    _add_batch_size(p, "records")
    p.set_defaults(run=create_many)

    p = _command(commands, "read", "print the original value stored under the KEY argument")
    p.add_argument("key", metavar="KEY", type=_key)
    _add_justification(p)
    _add_restriction_ground(p)
    _add_json(p, "the record")
    p.set_defaults(run=read)

    p = _command(
        commands, "delete", "delete the record under the KEY argument (succeeds if absent)"
    )
    p.add_argument("key", metavar="KEY", type=_key)
    p.set_defaults(run=delete)

    p = _command(
        commands,
        "read-many",
        "print KEY<TAB>VALUE for the keys read from stdin (one key a line), in order",
    )
    p.epilog = (
        f"Reads {BULK_INPUT}. A backslash, tab, newline or carriage return in VALUE is"
        " printed as \\\\, \\t, \\n or \\r, so each record is one line (create-many reads"
        " them back)."
    )
    _add_justification(p)
    _add_restriction_ground(p)
    _add_json(p, "each record, one per line,")
    _add_batch_size(p)
    p.set_defaults(run=read_many)

    p = _command(
        commands, "delete-many", "delete the records of the keys read from stdin (one key a line)"
    )
    p.epilog = f"Reads {BULK_INPUT}."
    _add_batch_size(p)
    p.set_defaults(run=delete_many)

    p = _command(
        commands,
        "audit",
        "print the audit events matching the filter options (at least one) as JSON lines",
    )
    p.add_argument("--key", help="events that named this pseudonym")
    p.add_argument("--principal", help="events of this principal")
    p.add_argument("--since", type=_timestamp, help="from this time (ISO-8601, inclusive)")
    p.add_argument("--until", type=_timestamp, help="until this time (ISO-8601, exclusive)")
    p.set_defaults(run=audit)

    p = _command(
        commands,
        "health",
        "print the server's health; exit 0 only when SERVING (reads no input)",
    )
    p.set_defaults(run=health)
