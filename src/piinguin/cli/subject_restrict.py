"""``piinguin subject restrict`` and ``unrestrict`` (GDPR Art. 18)."""

from __future__ import annotations

import argparse
import json

from piinguin.cli.commands import Commands, Streams
from piinguin.cli.exit_codes import EXIT_OK, EXIT_USAGE
from piinguin.cli.subject import PersonError, add_person_options, person
from piinguin.client import PiinguinClient, Restriction


def _print(done: Restriction, operation: str, args: argparse.Namespace, streams: Streams) -> None:
    at = done.at.isoformat() if done.at is not None else None
    if args.json:
        answer = {"operation": operation, "modified_values": done.modified_values, "at": at}
        print(json.dumps(answer), file=streams.stdout)
        return
    count = len(done.modified_values)
    print(
        f"{operation}ed {count} pseudonym{'' if count == 1 else 's'} at {at}", file=streams.stdout
    )
    for key in done.modified_values:
        print(key, file=streams.stdout)


async def restrict(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        values, keys = await person(args, streams)
    except PersonError as exc:
        streams.fail(f"subject restrict: {exc}")
        return EXIT_USAGE
    done = await client.restrict_subject(
        values=values, modified_values=keys, basis=args.basis, purpose=args.purpose
    )
    _print(done, "restrict", args, streams)
    return EXIT_OK


async def unrestrict(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        values, keys = await person(args, streams)
    except PersonError as exc:
        streams.fail(f"subject unrestrict: {exc}")
        return EXIT_USAGE
    done = await client.unrestrict_subject(
        values=values, modified_values=keys, basis=args.basis, purpose=args.purpose
    )
    _print(done, "unrestrict", args, streams)
    return EXIT_OK


def add_restriction_commands(subcommands: Commands) -> None:
    p = subcommands.add_parser(
        "restrict",
        help="restrict processing of a person's records (GDPR Art. 18)",
        description="Restrict processing of a person's records (GDPR Art. 18): reads are "
        "refused unless they state a restriction ground, from a principal whose grant has "
        "restricted_reads; records written later under the same pseudonyms or values are "
        "restricted too. Prints the pseudonyms restricted. Safe to repeat.",
    )
    add_person_options(p)
    p.set_defaults(run=restrict)

    p = subcommands.add_parser(
        "unrestrict",
        help="lift a person's restriction of processing (GDPR Art. 18)",
        description="Lift a person's restriction of processing: their records are read "
        "as any other again. Prints the pseudonyms unrestricted. Safe to repeat.",
    )
    add_person_options(p)
    p.set_defaults(run=unrestrict)
