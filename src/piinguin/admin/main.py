"""``piinguin-admin``: operator commands on the vault's keys and storage.

    piinguin-admin keyring create PATH [--expected-values N | --index-bits N]
    piinguin-admin keyring rotate PATH
    piinguin-admin receipt-key create PATH
    piinguin-admin receipt-key public PATH
    piinguin-admin encrypt   [--checkpoint FILE] [--page-size N] STORE OPTIONS
    piinguin-admin reencrypt [--every] [--checkpoint FILE] [--page-size N] STORE OPTIONS
    piinguin-admin add-index [--table T] [--region R] [--dynamodb-endpoint URL]

The store options are the server's, with the same ``PIINGUIN_*`` variables, so a command
run in the server's environment works on the server's tables: ``--keyring`` (required),
``--table``, ``--key-table``, ``--vault``, ``--region``, ``--dynamodb-endpoint``.
Exit codes: 0 done, 1 done in part (failed or unreadable items: said why), 2 bad usage or
configuration, 3 storage or KMS unavailable. Errors are one line on stderr and never hold a
key or a value.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError

from piinguin.admin.progress import Checkpoint, Reporter, describe
from piinguin.options import Option, OptionError, build_parser, resolve, whole_number
from piinguin.receipts import ReceiptSigner, write_key_file
from storage import StorageError, StorageMisconfigured
from storage.crypto import KeyringSpec, create_key_file, open_keyring, rotate_key_file
from storage.crypto.local import DEFAULT_EXPECTED_VALUES, index_bits_for
from storage.dynamodb import DynamoDBStorage, add_blind_index, open_client
from storage.encrypted import EncryptedStorage
from storage.migrate import Mode, rewrite

EXIT_PARTLY, EXIT_USAGE, EXIT_UNAVAILABLE = 1, 2, 3


def _optional(text: str) -> str | None:
    return text or None


def _positive(text: str) -> int:
    number = whole_number(text)
    if number < 1:
        raise ValueError(f"expected a positive whole number, got {text!r}")
    return number


TABLE_OPTIONS = (
    Option("--table", "DynamoDB table of records", "piinguin"),
    Option("--region", "AWS region of the tables; none means the AWS chain", None, _optional),
    Option("--dynamodb-endpoint", "DynamoDB endpoint URL; none means AWS's own", None, _optional),
)
STORE_OPTIONS = (
    *TABLE_OPTIONS,
    Option("--keyring", "local:PATH or kms:KEY_ID_OR_ARN, as the server's", None, _optional),
    Option("--key-table", "DynamoDB table of per-record key material", "piinguin-keys"),
    Option("--vault", "the name ciphertexts are bound to; none means --table", None, _optional),
    Option("--checkpoint", "file to resume from and to record progress in", None, _optional),
    Option("--page-size", "items read per page", 500, _positive),
)


def _add(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    for option in options:
        parser.add_argument(
            option.flag,
            metavar=option.dest.upper(),
            help=f"{option.help} (default: {option.default}) [env {option.env}]",
        )


def parser() -> argparse.ArgumentParser:
    top = build_parser(
        "piinguin-admin", "Operator commands on a Piinguin vault's keys and storage.", ()
    )
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True)

    keyring = commands.add_parser("keyring", help="make or rotate a local key file")
    actions = keyring.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a new key file (mode 0600)")
    create.add_argument("path", metavar="PATH", type=Path)
    sizes = create.add_mutually_exclusive_group()
    sizes.add_argument(
        "--expected-values",
        type=_positive,
        default=DEFAULT_EXPECTED_VALUES,
        help="distinct originals the vault is planned for: sets the blind index length "
        f"(default: {DEFAULT_EXPECTED_VALUES:,})",
    )
    sizes.add_argument("--index-bits", type=int, help="the blind index length itself, 8 to 64")
    create.set_defaults(action="create")
    rotate = actions.add_parser("rotate", help="add a new key version and make it current")
    rotate.add_argument("path", metavar="PATH", type=Path)
    rotate.set_defaults(action="rotate")

    for mode, text in (
        ("encrypt", "seal every plaintext item in place (idempotent, resumable)"),
        ("reencrypt", "seal again every item not under the keyring's current version"),
    ):
        command = commands.add_parser(mode, help=text, description=text)
        _add(command, STORE_OPTIONS)
        if mode == "reencrypt":
            command.add_argument(
                "--every",
                action="store_true",
                help="every sealed item, whatever its version (after a new blind index key)",
            )
        command.set_defaults(action=mode)
    receipt_key = commands.add_parser(
        "receipt-key", help="make the key erasure receipts are signed with, or show its public key"
    )
    actions = receipt_key.add_subparsers(title="actions", metavar="ACTION", required=True)
    make = actions.add_parser(
        "create", help="make a new Ed25519 key file (mode 0600) and print its public key"
    )
    make.add_argument("path", metavar="PATH", type=Path)
    make.set_defaults(action="receipt-key-create")
    public = actions.add_parser(
        "public", help="print the public key (PEM) and key id of a receipt key file"
    )
    public.add_argument("path", metavar="PATH", type=Path)
    public.set_defaults(action="receipt-key-public")

    add_index = commands.add_parser(
        "add-index", help="add the blind index to an existing records table, and wait for it"
    )
    _add(add_index, TABLE_OPTIONS)
    add_index.set_defaults(action="add-index")
    return top


async def main(argv: Sequence[str], environ: Mapping[str, str], *, out: TextIO, err: TextIO) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.action in {"create", "rotate", "receipt-key-create", "receipt-key-public"}:
            local = _receipt_key if args.action.startswith("receipt-key") else _keyring
            return await asyncio.to_thread(local, args, out)
        if args.action == "add-index":
            return await _add_index(resolve(TABLE_OPTIONS, args, environ), out)
        settings = resolve(STORE_OPTIONS, args, environ)
        return await _rewrite(
            args.action, settings, bool(args.every) if "every" in args else False, out, err
        )
    except (OptionError, ValueError, StorageMisconfigured, OSError) as exc:  # ReceiptError too
        err.write(f"piinguin-admin: error: {_sentence(exc)}\n")
        return EXIT_USAGE
    except StorageError as exc:
        err.write(f"piinguin-admin: error: {exc}\n")
        return EXIT_UNAVAILABLE


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _keyring(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "rotate":
        new = rotate_key_file(args.path)
        out.write(f"{args.path}: added {new}, now current; older versions stay readable\n")
        return 0
    bits = args.index_bits if args.index_bits is not None else index_bits_for(args.expected_values)
    created = create_key_file(args.path, index_bits=bits)
    out.write(f"{args.path}: created with {created}, blind index of {bits} bits\n")
    return 0


def _receipt_key(args: argparse.Namespace, out: TextIO) -> int:
    """The public half goes to stdout as PEM, after a comment line naming the key id: give
    it to whoever checks receipts (``piinguin subject verify-receipt --public-key``)."""
    if args.action == "receipt-key-create":
        signer = write_key_file(args.path)
        out.write(f"# {args.path}: created; give --receipt-key {args.path} to the servers\n")
    else:
        signer = ReceiptSigner.load(args.path)
    out.write(f"# key id {signer.key_id}\n{signer.public_key_pem}")
    return 0


@contextlib.asynccontextmanager
async def _client(settings: Mapping[str, Any]) -> AsyncIterator[Any]:
    try:
        async with open_client(
            endpoint_url=settings["dynamodb_endpoint"], region=settings["region"]
        ) as client:
            yield client
    except BotoCoreError as exc:  # no region, an unknown profile: named by botocore's class
        raise OptionError(
            "--region", f"cannot set up a DynamoDB client ({type(exc).__name__})"
        ) from exc


async def _add_index(settings: Mapping[str, Any], out: TextIO) -> int:
    async with _client(settings) as client:
        added = await add_blind_index(client, settings["table"])
    table = settings["table"]
    out.write(f"{table}: blind index {'added and active' if added else 'already there'}\n")
    return 0


async def _rewrite(
    mode: Mode, settings: Mapping[str, Any], every: bool, out: TextIO, err: TextIO
) -> int:
    if settings["keyring"] is None:
        raise OptionError("--keyring", "required: the keyring the servers use")
    try:
        spec = KeyringSpec.parse(settings["keyring"])
    except ValueError as exc:
        raise OptionError("--keyring", str(exc)) from None
    if spec.scheme == "ephemeral":
        raise OptionError("--keyring", "ephemeral keys die with this command")
    table, vault = settings["table"], settings["vault"] or settings["table"]
    checkpoint = (
        Checkpoint(Path(settings["checkpoint"]), mode, table) if settings["checkpoint"] else None
    )
    resuming, resume_after = await checkpoint.resume_after() if checkpoint else (False, None)
    if resuming:
        err.write(f"{mode}: resuming from {checkpoint.path if checkpoint else ''}\n")
    async with _client(settings) as client:
        backend = DynamoDBStorage(client, table, key_table=settings["key_table"])
        async with open_keyring(
            spec, state=backend, vault=vault, region=settings["region"]
        ) as keyring:
            store = EncryptedStorage(backend, keyring, vault=vault)
            tally = await rewrite(
                store,
                mode,
                resume_after=resume_after,
                page_size=settings["page_size"],
                every=every,
                on_page=Reporter(mode, err, checkpoint).update,
            )
    out.write(f"{mode}: done: {describe(mode, tally)}\n")
    if tally.failed:
        err.write(f"{mode}: {tally.failed:,} items failed for now: run it again\n")
    if tally.unreadable:
        err.write(
            f"{mode}: {tally.unreadable:,} items cannot be opened (damaged, or under a key "
            "this keyring does not hold): left as they are\n"
        )
    return EXIT_PARTLY if tally.failed or tally.unreadable else 0


def run() -> None:
    try:
        code = asyncio.run(main(sys.argv[1:], os.environ, out=sys.stdout, err=sys.stderr))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
