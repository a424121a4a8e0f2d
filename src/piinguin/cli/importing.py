"""``piinguin create-many``: a bulk import of records from a file or stdin.

Two formats, one record a line:

- ``KEY<TAB>VALUE`` (the default), as ``read-many`` prints them: the key is the text
  before the first tab, the value everything after it, to the end of the line, with
  ``read-many``'s escapes undone (``\\\\``, ``\\t``, ``\\n``, ``\\r``; a backslash before
  anything else stays as it is);
- JSON lines with ``--json``, as ``read-many --json`` prints them: an object with
  ``modified_value`` and ``original_value`` and, optionally, the provenance fields
  (``field_name``, ``json_path``, ``schema``, ``hash_function``, ``app_id``,
  ``collector_tstamp``). ``created_at``, ``updated_at``, ``expires_at`` and ``restricted``
  are accepted and ignored (the server sets them), and the protobuf JSON names
  (``modifiedValue``, ...) work too.

A line that cannot be read is reported by its number, never by its content, and skipped;
the others are written in batches. On a terminal, stderr shows progress (with the share
done and the time left for a file) and, at the end, what was written.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from piinguin.cli.exit_codes import EXIT_OK, EXIT_USAGE, describe, exit_code
from piinguin.client import PiinguinClient, PiiRecord
from piinguin.client.errors import error_for_status
from piinguin.progress import Progress

if TYPE_CHECKING:
    from piinguin.cli.commands import Streams

STDIN = "-"
TEXT_FIELDS = (
    "modified_value",
    "original_value",
    "field_name",
    "json_path",
    "schema",
    "hash_function",
    "app_id",
)
TIME_FIELDS = ("collector_tstamp", "created_at", "updated_at", "expires_at")
#: Printed by read-many, set by the server: accepted on import and ignored.
SERVER_FIELDS = ("restricted",)
#: The protobuf JSON names of the fields, as other tools write them.
_SNAKE = {
    "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_"))): name
    for name in (*TEXT_FIELDS, *TIME_FIELDS, *SERVER_FIELDS)
}


#: How read-many writes a value's backslashes, tabs and line ends: escaped, so that each
#: record stays one line of two columns whatever its value holds.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TSV_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_TSV_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def tsv_value(value: str) -> str:
    """``value`` as the VALUE column of a KEY<TAB>VALUE line."""
    return value.translate(_TSV_ESCAPES)


def value_from_tsv(text: str) -> str:
    """What ``tsv_value`` was given for ``text``."""
    if "\\" not in text:
        return text
    return _TSV_ESCAPED.sub(lambda m: _TSV_UNESCAPES.get(m[1], m[0]), text)


class LineError(ValueError):
    """What is wrong with a line, in words that never quote it."""


def parse_tsv(line: str) -> PiiRecord:
    key, tab, value = line.partition("\t")
    if not tab:
        raise LineError("expected KEY<TAB>VALUE, found no tab")
    return PiiRecord(modified_value=key.strip(), original_value=value_from_tsv(value))


def _timestamp(name: str, value: object) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise LineError(f"{name} must be an ISO-8601 time such as 2026-11-01T00:00:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_json(line: str) -> PiiRecord:
    try:
        decoded: Any = json.loads(line)
    except ValueError:
        raise LineError("not a JSON object") from None  # json's message may quote the line
    if not isinstance(decoded, dict):
        raise LineError("not a JSON object")
    fields = {_SNAKE.get(name, name): value for name, value in decoded.items()}
    if unknown := fields.keys() - {*TEXT_FIELDS, *TIME_FIELDS, *SERVER_FIELDS}:
        # The names are not quoted either: a stray one may be data.
        raise LineError(
            f"{len(unknown)} unknown field(s); expected {', '.join((*TEXT_FIELDS, *TIME_FIELDS))}"
        )
    for name in ("modified_value", "original_value"):
        if name not in fields:
            raise LineError(f"{name} is missing")
    for name in TEXT_FIELDS:
        if not isinstance(fields.get(name, ""), str):
            raise LineError(f"{name} must be a string")
    return PiiRecord(
        **{name: fields.get(name, "") for name in TEXT_FIELDS},
        collector_tstamp=_timestamp("collector_tstamp", fields.get("collector_tstamp")),
    )


def _open(path: str) -> tuple[IO[bytes], int]:
    """The file and its size in bytes, for the progress line's total and time left."""
    stream = open(path, "rb")  # noqa: SIM115  (create_many closes it)
    return stream, os.fstat(stream.fileno()).st_size


def _take(lines: Iterable[str | bytes], count: int) -> list[str | bytes]:
    return list(itertools.islice(lines, count))


class _Import:
    def __init__(self, client: PiinguinClient, args: argparse.Namespace, streams: Streams):
        self._client = client
        self._parse = parse_json if args.json else parse_tsv
        self._batch_size: int = args.batch_size
        self._label = "<stdin>" if args.file == STDIN else args.file
        self._streams = streams
        self.code = EXIT_OK
        self.lines = self.read_bytes = self.written = self.failed = self.skipped = 0

    async def run(self, stream: IO[Any], progress: Progress) -> None:
        while chunk := await asyncio.to_thread(_take, stream, self._batch_size):
            batch: list[tuple[str, PiiRecord]] = []
            for raw in chunk:
                self.lines += 1
                self.read_bytes += len(raw) if isinstance(raw, bytes) else len(raw.encode())
                where = f"{self._label}:{self.lines}"
                try:
                    line = raw.decode() if isinstance(raw, bytes) else raw
                except UnicodeDecodeError:
                    self._skip(where, "not UTF-8", progress)
                    continue
                line = line.removesuffix("\n").removesuffix("\r")
                if not line.strip():
                    continue
                try:
                    batch.append((where, self._parse(line)))
                except LineError as exc:
                    self._skip(where, str(exc), progress)
            if batch:
                await self._write(batch, progress)
            progress.update(
                lines=self.lines, read_bytes=self.read_bytes, written=self.written,
                failed=self.failed,
            )  # fmt: skip

    def _skip(self, where: str, problem: str, progress: Progress) -> None:
        progress.clear()
        self._streams.fail(f"{where}: {problem}")
        self.skipped += 1
        self.code = max(self.code, EXIT_USAGE)

    async def _write(self, batch: Sequence[tuple[str, PiiRecord]], progress: Progress) -> None:
        results = await self._client.create_records([record for _, record in batch])
        for (where, _), result in zip(batch, results, strict=True):
            if result.ok:
                self.written += 1
                continue
            error = error_for_status(result.status, result.message)
            progress.clear()
            self._streams.fail(f"{where}: {describe(error)}")
            self.failed += 1
            self.code = max(self.code, exit_code(error))

    def summary(self) -> str:
        return (
            f"create-many: {self.lines:,} lines from {self._label}: {self.written:,} records"
            f" written, {self.failed:,} failed, {self.skipped:,}"
            f" {'line' if self.skipped == 1 else 'lines'} skipped"
        )


async def create_many(client: PiinguinClient, args: argparse.Namespace, streams: Streams) -> int:
    stream: IO[Any] = streams.stdin
    size: int | None = None  # unknown for stdin: no total, no time left
    if args.file != STDIN:
        try:
            stream, size = await asyncio.to_thread(_open, args.file)
        except OSError as exc:
            streams.fail(f"create-many: cannot read {args.file}: {exc.strerror or exc}")
            return EXIT_USAGE
    job = _Import(client, args, streams)
    progress = Progress(streams.stderr, size)
    try:
        await job.run(stream, progress)
    finally:
        progress.clear()
        if stream is not streams.stdin:
            await asyncio.to_thread(stream.close)
    if streams.stderr.isatty():
        streams.fail(job.summary())
    return job.code
