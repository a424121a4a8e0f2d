"""``piinguin subject erase`` and ``piinguin subject verify-receipt``.

``erase`` names the person as every subject subcommand does (``cli.subject``) and writes
the server's signed receipt, ``{"receipt": ..., "signature": ..., "key_id": ...}``, to
``--output`` (a new file) or stdout. ``verify-receipt`` checks such a file offline with
the server's public key (``--public-key``, as ``piinguin-admin receipt-key public``
prints it) or, without one, with the keys the server publishes (GetReceiptKeys): exit 0
and what the receipt says when it verifies, ``EXIT_INVALID_RECEIPT`` when the receipt was
altered or another key signed it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from piinguin.cli.commands import Commands, Streams
from piinguin.cli.exit_codes import EXIT_INVALID_RECEIPT, EXIT_OK, EXIT_USAGE
from piinguin.cli.subject import PersonError, add_person_options, person
from piinguin.client import ErasureReceipt, PiinguinClient
from piinguin.receipts import ReceiptError


async def erase(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        values, keys = await person(args, streams)
    except PersonError as exc:
        streams.fail(f"subject erase: {exc}")
        return EXIT_USAGE
    output: Path | None = args.output
    # Checked first: an erasure cannot be undone, and its receipt must have somewhere to go.
    if output is not None and await asyncio.to_thread(output.exists):
        streams.fail(f"subject erase: {output} exists; a receipt never replaces a file")
        return EXIT_USAGE
    receipt = await client.erase_subject(
        values=values, modified_values=keys, basis=args.basis, purpose=args.purpose
    )
    text = receipt.to_file()
    if output is not None:
        try:
            await asyncio.to_thread(_write_new, output, text)
        except OSError as exc:
            # The erasure happened: the receipt must not be lost with the file.
            streams.fail(
                f"subject erase: cannot write {output} ({exc.strerror or exc}); the receipt:"
            )
            streams.stdout.write(text)
            return EXIT_USAGE
    if args.json or output is None:
        if output is None:
            streams.stdout.write(text)
        else:
            print(json.dumps(_summary(receipt)), file=streams.stdout)
        return EXIT_OK
    body = json.loads(receipt.receipt)
    print(
        f"erased {len(receipt.pseudonyms)} pseudonyms ({body.get('records_erased')} records),"
        f" {body.get('value_tombstones')} value tombstones; receipt {body.get('receipt_id')}"
        f" in {output}",
        file=streams.stdout,
    )
    return EXIT_OK


def _summary(receipt: ErasureReceipt) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(receipt.receipt)
    return {"key_id": receipt.key_id, **body}


def _write_new(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8") as file:
        file.write(text)


async def verify_receipt(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    try:
        receipt = ErasureReceipt.from_file(await asyncio.to_thread(_read, args.file))
        pem = await asyncio.to_thread(_read, args.public_key) if args.public_key else None
    except (OSError, UnicodeDecodeError) as exc:
        streams.fail(f"subject verify-receipt: cannot read: {_reason(exc)}")
        return EXIT_USAGE
    except ReceiptError as exc:
        streams.fail(f"subject verify-receipt: {args.file}: {exc}")
        return EXIT_INVALID_RECEIPT
    if pem is None:
        keys = await client.receipt_keys()
        pem = keys.get(receipt.key_id)
        if pem is None:
            streams.fail(
                f"subject verify-receipt: INVALID: the server does not sign with key"
                f" {receipt.key_id} (known: {', '.join(sorted(keys)) or 'none'})"
            )
            return EXIT_INVALID_RECEIPT
    try:
        body = receipt.verify_with(pem)
    except ReceiptError as exc:
        streams.fail(f"subject verify-receipt: INVALID: {exc}")
        return EXIT_INVALID_RECEIPT
    if args.json:
        print(json.dumps({"valid": True, **body}), file=streams.stdout)
    else:
        print(_human(body), file=streams.stdout)
    return EXIT_OK


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return "not UTF-8 text"


def _human(body: dict[str, Any]) -> str:
    pseudonyms = body.get("pseudonyms") or []
    lines = [
        f"valid: signed by {body.get('key_id')}",
        f"receipt {body.get('receipt_id')}: erased at {body.get('erased_at')}"
        f" by {body.get('principal') or '(anonymous)'}",
        f"basis {body.get('lawful_basis')}, purpose {body.get('purpose')!r}",
        f"{len(pseudonyms)} pseudonyms tombstoned ({body.get('records_erased')} held a record),"
        f" {body.get('value_tombstones')} value tombstones",
        *(f"  {key}" for key in pseudonyms),
    ]
    return "\n".join(lines)


def add_erase_commands(subcommands: Commands) -> None:
    p = subcommands.add_parser(
        "erase",
        help="erase a person's records for good (GDPR Art. 17) and write the signed receipt",
        description="Erase a person's records for good: delete them (crypto-shredded) and "
        "tombstone their pseudonyms and values, so that no API or relay stores them again. "
        "Writes the server's signed receipt as JSON to --output (a new file) or stdout; "
        "check it with 'piinguin subject verify-receipt'.",
    )
    add_person_options(p)
    p.add_argument(
        "--output", type=Path, metavar="RECEIPT.json", help="write the receipt to this new file"
    )
    p.set_defaults(run=erase)

    p = subcommands.add_parser(
        "verify-receipt",
        help="check an erasure receipt's signature; exit 0 when valid, 6 when not",
        description="Check an erasure receipt file: offline with --public-key (as "
        "'piinguin-admin receipt-key public' prints it), or with the keys the server "
        "publishes. Exit 0 and a summary when it verifies, 6 when it was altered or "
        "another key signed it.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the receipt file")
    p.add_argument(
        "--public-key", type=Path, metavar="PEM_FILE", help="the server's public key (PEM)"
    )
    p.add_argument("--json", action="store_true", help="print the verified receipt as JSON")
    p.set_defaults(run=verify_receipt)
