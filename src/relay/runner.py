"""``piinguin-relay``: enriched events from files or stdin, written to Piinguin as the
Lambda writes them.

    piinguin-relay --target HOST:PORT [--token ...] [--tls ...] [FILE ...]

For a backfill from an archive of the PII stream, or local development. Each FILE holds
one enriched event per line (``.gz`` files are decompressed); without FILE, or with
``-``, lines come from stdin. Input is read ``CHUNK_LINES`` lines at a time, each chunk
planned and written like one Kinesis batch (the same code), so a file of any size runs
in bounded memory. Every setting has a ``PIINGUIN_*`` variable, as for the Lambda.

Exit codes: 0 every pair written; 1 some pairs failed, no line of the input was an
enriched event (an empty input, or the wrong file), or, with ``--fail-malformed``, some
lines were malformed; 2 bad usage or configuration; 130 interrupted. Writes are
idempotent: re-running a failed input is safe.

On a terminal, stderr shows progress (with the share done and the time left when every
input is a file) and, last, a summary for people; the ``relay_summary`` log line is
written either way.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TextIO

import structlog

from piinguin.logs import configure_logging
from piinguin.options import Option, OptionError, build_parser, resolve
from piinguin.progress import Progress
from relay.config import OPTIONS, RelayConfig
from relay.connection import Connection
from relay.malformed import Malformed
from relay.parse import ParsedRecord, parse_identified_line
from relay.pipeline import log_malformed, relay_records
from relay.summary import Summary

log = structlog.get_logger("relay")

#: Lines planned and written together: as many as Lambda's largest Kinesis batch.
CHUNK_LINES = 10_000
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
STDIN = "-"

DESCRIPTION = "Write the pairs of Snowplow PII events, one enriched event per line, to Piinguin."
RUNNER_OPTIONS: tuple[Option, ...] = (
    Option("--log-format", "log line format", "json", choices=("json", "console")),
)


def _parser() -> argparse.ArgumentParser:
    parser = build_parser("piinguin-relay", DESCRIPTION, (*OPTIONS, *RUNNER_OPTIONS))
    parser.epilog = (
        "piinguin-relay replay --help: read again from Kinesis the batches Lambda gave up on"
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="enriched events, one per line, optionally gzipped; none or - reads stdin",
    )
    return parser


def main(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdin: BinaryIO | None = None,
    stderr: TextIO | None = None,
    chunk_lines: int = CHUNK_LINES,
    configure_logs: bool = True,
) -> int:
    """Relay every line of the inputs (or, as ``replay ...``, replay ranges); the exit code."""
    if list(argv[:1]) == ["replay"]:
        # Imported here: aioboto3 would slow every other start down. (A file named
        # "replay" is ./replay.)
        from relay.replay import main as replay  # noqa: PLC0415

        return replay(argv[1:], environ, stdin=stdin, stderr=stderr, configure_logs=configure_logs)
    err = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed usage and the problem, or the help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        config = RelayConfig.from_args(args, environ)
        log_format = resolve(RUNNER_OPTIONS, args, environ)["log_format"]
        connection = Connection(config)
    except OptionError as exc:
        err.write(f"piinguin-relay: error: {exc}\n")
        return EXIT_USAGE
    files = args.files or [STDIN]
    missing = [name for name in files if name != STDIN and not Path(name).is_file()]
    if missing:
        err.write(f"piinguin-relay: error: no such file: {missing[0]}\n")
        return EXIT_USAGE
    if configure_logs:
        configure_logging(config.log_level, log_format)
    stdin = stdin or sys.stdin.buffer
    total = None  # the input's size, when it is known: files only (gzipped ones as stored)
    if STDIN not in files:
        total = sum(Path(name).stat().st_size for name in files)
    relay = _FileRelay(config, connection, err, Progress(err, total), chunk_lines)
    try:
        return asyncio.run(relay.run(files, stdin))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class _FileRelay:
    def __init__(
        self,
        config: RelayConfig,
        connection: Connection,
        err: TextIO,
        progress: Progress,
        chunk_lines: int,
    ) -> None:
        self._config = config
        self._connection = connection
        self._err = err
        self._progress = progress
        self._chunk_lines = chunk_lines
        self._summary = Summary(0, 0, 0, {}, 0, 0)
        self._lines = 0
        #: Bytes read: of stdin as read, of files as stored (compressed ones compressed).
        self._bytes = 0

    async def run(self, files: Sequence[str], stdin: BinaryIO) -> int:
        started = time.monotonic()
        stopped = False
        try:
            for name in files:
                if not await self._relay_file(name, stdin):
                    stopped = True
                    break
        finally:
            await self._connection.close()
        self._progress.clear()
        summary = self._summary
        seconds = time.monotonic() - started
        log.info(
            "relay_summary",
            **summary.as_log(),
            lines=self._lines,
            duration_ms=round(seconds * 1000, 1),
        )
        bad_lines = self._config.fail_malformed and summary.malformed
        code = EXIT_FAILED if stopped or summary.failed or bad_lines else EXIT_OK
        if not stopped and summary.records == summary.malformed_count and not summary.pairs:
            self._err.write(f"piinguin-relay: error: {_nothing_valid(summary)}\n")
            code = EXIT_FAILED
        if self._err.isatty():
            stop = ", stopped: no pair of a whole chunk was written" if stopped else ""
            self._err.write(f"piinguin-relay: {summary.sentence()}, in {seconds:.1f}s{stop}\n")
        return code

    async def _relay_file(self, name: str, stdin: BinaryIO) -> bool:
        """Relay one input; ``False`` when no pair of a whole chunk was settled (written,
        or refused for good) and the run should stop."""
        label = "<stdin>" if name == STDIN else name
        with ExitStack() as stack:
            stored: BinaryIO | None = None  # the file as stored, to tell how far through it
            stream: Iterable[bytes] = stdin
            if name != STDIN:
                stored = stack.enter_context(await asyncio.to_thread(_open, name))
                stream = stored
                if name.endswith(".gz"):
                    stream = stack.enter_context(gzip.GzipFile(fileobj=stored))
            number, before = 0, self._bytes
            while lines := await asyncio.to_thread(_read_lines, stream, self._chunk_lines):
                records = _parse(lines, label, number)
                number += len(lines)
                self._lines += len(lines)
                if stored is None:
                    self._bytes += sum(map(len, lines))
                else:
                    self._bytes = before + stored.tell()
                self._progress.clear()
                log_malformed(records, label="line")
                summary, settled = await relay_records(
                    self._connection,
                    records,
                    bulk_size=self._config.bulk_size,
                    concurrency=self._config.concurrency,
                )
                self._summary += summary
                self._progress.update(
                    lines=self._lines,
                    read_bytes=self._bytes,
                    written=self._summary.written,
                    failed=self._summary.failed,
                )
                # Stop only when the server settles nothing: a chunk it refuses for good
                # (INVALID_ARGUMENT) says the server answers, and the next chunk may be fine.
                if summary.unique_keys and not settled:
                    self._progress.clear()
                    log.error("relay_stopped", reason="no pair of a whole chunk was written")
                    return False
        return True


def _open(name: str) -> BinaryIO:
    return open(name, "rb")


def _read_lines(stream: Iterable[bytes], count: int) -> list[bytes]:
    return list(itertools.islice(stream, count))


def _nothing_valid(summary: Summary) -> str:
    if not summary.records:
        return "the input is empty: there was no line to relay"
    reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(summary.malformed.items()))
    return (
        f"no line of the input is an enriched event: all {summary.records:,} lines are"
        f" malformed ({reasons}); the input must be Snowplow enriched events, one per line"
    )


def _parse(lines: Sequence[bytes], label: str, before: int) -> list[ParsedRecord]:
    """Parse lines numbered from ``before + 1``; a record is known as ``FILE:LINE``."""
    records = []
    for number, raw in enumerate(lines, start=before + 1):
        identifier = f"{label}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            records.append(ParsedRecord(identifier, malformed=Malformed.NOT_UTF8))
            continue
        records.append(parse_identified_line(identifier, line.removesuffix("\n")))
    return records


def run() -> None:
    sys.exit(main(sys.argv[1:], os.environ))
