"""``piinguin-relay replay``: the Kinesis batches Lambda gave up on, read again from the
stream and written to Piinguin.

    piinguin-relay replay --target HOST:PORT [--token-secret ARN ...] --queue-url URL
    piinguin-relay replay --target HOST:PORT [--token-secret ARN ...] [MESSAGE_FILE ...]

Lambda reports a batch it gave up on to the failure queue by shard and sequence-number
range (``relay.failures``). With ``--queue-url`` every message on the queue is replayed
and, once its whole range is written, deleted; a message whose range is not is left
for its visibility timeout to bring back. Without it, messages come from files (or
stdin): one JSON document, a list of them, JSON lines, or the output of
``aws sqs receive-message``. Each range is read with GetRecords (``relay.stream``) and
written like one Lambda batch, with the same code and settings as ``piinguin-relay``.

Exit codes: 0 every range written in full; 1 some range was not (a failed pair, a
range the stream no longer holds in full, an unreadable message); 2 bad usage or
configuration; 130 interrupted. A pair the server refuses for good (INVALID_ARGUMENT)
counts as done, as in the Lambda: no replay could write it. Replaying a range twice is
safe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import aioboto3
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from piinguin.logs import configure_logging
from piinguin.options import Option, OptionError, build_parser, resolve
from piinguin.progress import INTERVAL, duration
from relay.config import OPTIONS, RelayConfig
from relay.connection import Connection
from relay.failures import NotAFailureMessage, SkippedBatch, parse_failure_message
from relay.pipeline import log_malformed, relay_records
from relay.runner import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, RUNNER_OPTIONS, STDIN
from relay.stream import read_range
from relay.summary import Summary

if TYPE_CHECKING:
    from types_aiobotocore_kinesis.client import KinesisClient
    from types_aiobotocore_sqs.client import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

log = structlog.get_logger("relay")

PROG = "piinguin-relay replay"
DESCRIPTION = (
    "Read again the Kinesis ranges Lambda reported to the failure queue, and write their "
    "pairs to Piinguin."
)
REPLAY_OPTIONS: tuple[Option, ...] = (
    Option(
        "--queue-url",
        "the failure queue: replay each of its messages, deleting those written in full",
    ),
)
#: A received message stays hidden this long, so that one run never sees it twice.
VISIBILITY_SEC = 900
#: The SDK retries throttling (5 GetRecords a second per shard) and 5xx with backoff.
AWS_CONFIG = AioConfig(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 10}
)
_REGION = re.compile(r"(?:^|\.)([a-z]{2}(?:-[a-z]+)+-[0-9])\.")


def _parser() -> argparse.ArgumentParser:
    options = (*OPTIONS, *RUNNER_OPTIONS, *REPLAY_OPTIONS)
    parser = build_parser(PROG, DESCRIPTION, options)
    parser.add_argument(
        "messages",
        nargs="*",
        metavar="MESSAGE_FILE",
        help="on-failure messages (JSON, JSON lines, or `aws sqs receive-message` output); "
        "- is stdin, and so is nothing without --queue-url",
    )
    return parser


def main(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdin: BinaryIO | None = None,
    stderr: TextIO | None = None,
    configure_logs: bool = True,
    queue_wait_sec: int = 2,
) -> int:
    """Replay the ranges the messages name; the exit code."""
    err = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed usage and the problem, or the help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        config = RelayConfig.from_args(args, environ)
        extra = resolve((*RUNNER_OPTIONS, *REPLAY_OPTIONS), args, environ)
        queue_url = extra["queue_url"]
        if queue_url and args.messages:
            return _usage(err, "give --queue-url or MESSAGE_FILEs, not both")
        batches = None if queue_url else _read_files(args.messages or [STDIN], stdin)
        connection = Connection(config)
    except (OptionError, NotAFailureMessage, OSError) as exc:
        return _usage(err, str(exc))
    if configure_logs:
        configure_logging(config.log_level, extra["log_format"])
    replayer = _Replayer(config, connection, _Progress(err))
    try:
        if batches is not None:
            code = asyncio.run(replayer.run(batches))
        else:
            code = asyncio.run(replayer.run_queue(queue_url, queue_wait_sec))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    err.write(replayer.human_summary() + "\n")
    return code


def _usage(err: TextIO, problem: str) -> int:
    err.write(f"{PROG}: error: {problem}\n")
    return EXIT_USAGE


def _read_files(names: Sequence[str], stdin: BinaryIO | None) -> list[SkippedBatch]:
    batches = []
    for name in names:
        if name == STDIN:
            text = (stdin or sys.stdin.buffer).read().decode("utf-8", errors="replace")
        else:
            text = Path(name).read_text(encoding="utf-8", errors="replace")
        try:
            batches += read_messages(text)
        except NotAFailureMessage as exc:
            raise NotAFailureMessage(f"{'<stdin>' if name == STDIN else name}: {exc}") from None
    return batches


def read_messages(text: str) -> list[SkippedBatch]:
    """The messages in ``text``: one JSON document, a JSON list of documents (or of their
    texts, as ``--query 'Messages[].Body'`` gives them), ``aws sqs receive-message``
    output, or JSON lines."""
    documents: list[Any]
    try:
        document = json.loads(text)
    except ValueError:
        documents = [line for line in text.splitlines() if line.strip()]
    else:
        if isinstance(document, dict) and isinstance(document.get("Messages"), list):
            documents = [m.get("Body") if isinstance(m, dict) else m for m in document["Messages"]]
        else:
            documents = document if isinstance(document, list) else [document]
    batches = []
    for number, item in enumerate(documents, start=1):
        try:
            batches.append(parse_failure_message(item))
        except NotAFailureMessage as exc:
            raise NotAFailureMessage(f"message {number}: {exc}") from None
    return batches


class _Replayer:
    def __init__(self, config: RelayConfig, connection: Connection, progress: _Progress) -> None:
        self._config = config
        self._connection = connection
        self._progress = progress
        self._stack = AsyncExitStack()
        self._session = aioboto3.Session()
        self._kinesis: dict[str, KinesisClient] = {}
        self.summary = Summary(0, 0, 0, {}, 0, 0)
        self.ranges = self.done = self.deleted = self.unreadable = 0
        self._started = time.monotonic()
        self._stopped = False

    async def run(self, batches: Sequence[SkippedBatch]) -> int:
        self._progress.expect(sum(batch.batch_size for batch in batches), len(batches))
        async with self._stack:
            try:
                for batch in batches:
                    if self._stopped:
                        break
                    await self.replay(batch)
            finally:
                await self._connection.close()
        return self._finish()

    async def run_queue(self, queue_url: str, wait_sec: int) -> int:
        async with self._stack:
            try:
                sqs = await self._stack.enter_async_context(
                    self._session.client("sqs", region_name=_region(queue_url), config=AWS_CONFIG)
                )
                async for message in _receive(sqs, queue_url, wait_sec):
                    try:
                        batch = parse_failure_message(message.get("Body", ""))
                    except NotAFailureMessage as exc:
                        self.unreadable += 1
                        log.error(
                            "replay_bad_message", message_id=message["MessageId"], error=str(exc)
                        )
                        continue
                    self._progress.expect(batch.batch_size, 1)
                    if await self.replay(batch):
                        await sqs.delete_message(
                            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                        )
                        self.deleted += 1
                    if self._stopped:
                        break
            except (ClientError, BotoCoreError) as exc:
                self.unreadable += 1
                log.error("replay_queue_failed", error=_aws_error(exc))
            finally:
                await self._connection.close()
        return self._finish()

    async def replay(self, batch: SkippedBatch) -> bool:
        """Replay one range; whether all of it was read and written."""
        self.ranges += 1
        summary, at_end, unsettled = Summary(0, 0, 0, {}, 0, 0), False, 0
        try:
            kinesis = await self._kinesis_client(batch.region)
            async for page in read_range(kinesis, batch):
                at_end = page.at_end
                log_malformed(page.records)
                part, settled = await relay_records(
                    self._connection,
                    page.records,
                    bulk_size=self._config.bulk_size,
                    concurrency=self._config.concurrency,
                )
                summary += part
                self.summary += part
                # Refused for good (INVALID_ARGUMENT) is settled, as in the Lambda: no
                # replay could write it.
                unsettled += part.unique_keys - len(settled)
                self._progress.update(len(page.records), self.summary, self.ranges)
                if part.unique_keys and not settled:
                    # The server settles nothing (refusing a pair is an answer): later
                    # ranges would fail too.
                    self._stopped = True
                    log.error("relay_stopped", reason="no pair of a whole page was written")
                    break
        except (ClientError, BotoCoreError) as exc:
            self._progress.clear()
            log.error("replay_unreadable", range=batch.label, error=_aws_error(exc))
            return False
        bad_lines = self._config.fail_malformed and summary.malformed
        done = at_end and not unsettled and not bad_lines and not self._stopped
        self.done += done
        self._progress.clear()
        (log.info if done else log.error)(
            "replay_range",
            range=batch.label,
            stream=batch.stream_arn,
            condition=batch.condition,
            complete=at_end,
            done=done,
            **summary.as_log(),
        )
        if not at_end and not self._stopped:
            log.error(
                "replay_incomplete",
                range=batch.label,
                reason="the shard no longer holds the range's end: replay it from the archive",
            )
        return done

    async def _kinesis_client(self, region: str) -> KinesisClient:
        if region not in self._kinesis:
            client = self._session.client("kinesis", region_name=region, config=AWS_CONFIG)
            self._kinesis[region] = await self._stack.enter_async_context(client)
        return self._kinesis[region]

    def _finish(self) -> int:
        self._progress.clear()
        log.info(
            "replay_summary",
            ranges=self.ranges,
            ranges_done=self.done,
            messages_deleted=self.deleted,
            messages_unreadable=self.unreadable,
            **self.summary.as_log(),
            duration_ms=round((time.monotonic() - self._started) * 1000, 1),
        )
        ok = self.done == self.ranges and not self.unreadable and not self._stopped
        return EXIT_OK if ok else EXIT_FAILED

    def human_summary(self) -> str:
        s = self.summary
        malformed = sum(s.malformed.values())
        text = (
            f"{PROG}: {self.done} of {self.ranges} ranges written in full; "
            f"{s.records:,} records read, {s.written:,} pairs written, {s.failed:,} failed, "
            f"{malformed:,} malformed records"
        )
        if self.deleted or self.unreadable:
            text += f"; {self.deleted} messages deleted, {self.unreadable} unreadable"
        return text


async def _receive(sqs: SQSClient, queue_url: str, wait_sec: int) -> AsyncIterator[MessageTypeDef]:
    """Every message on the queue, each once, until a receive brings nothing new."""
    seen: set[str] = set()
    while True:
        answer = await sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_sec,
            VisibilityTimeout=VISIBILITY_SEC,
        )
        fresh = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            yield message


def _region(queue_url: str) -> str | None:
    """The region in an SQS URL's host (``sqs.eu-west-1.amazonaws.com``); ``None`` (the
    AWS configuration's) for any other, such as a local endpoint."""
    host = queue_url.split("://", 1)[-1].split("/", 1)[0]
    match = _REGION.search(host)
    return match[1] if match else None


def _aws_error(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code"))
    return type(exc).__name__


class _Progress:
    """One line on a terminal: a bar over the records the ranges are expected to hold,
    the range, the rate, the time left, pairs written and failed. Silent elsewhere.
    (``piinguin.progress.Progress`` counts lines and bytes of files; this counts records
    of ranges, and draws a bar.)"""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._expected = self._records = self._ranges = 0
        self._started = time.monotonic()
        self._drawn = -INTERVAL
        self._shown = False

    def expect(self, records: int, ranges: int) -> None:
        self._expected += records
        self._ranges += ranges

    def update(self, records: int, summary: Summary, current_range: int) -> None:
        self._records += records
        now = time.monotonic()
        if not self._enabled or now - self._drawn < INTERVAL:
            return
        self._drawn = now
        share = min(self._records / self._expected, 1.0) if self._expected else 0.0
        filled = round(share * self.WIDTH)
        rate = self._records / max(now - self._started, 1e-9)
        left = max(self._expected - self._records, 0) / rate if rate else 0.0
        parts = [
            f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:.0%}",
            f"range {current_range} of {self._ranges}",
            f"{self._records:,} of {self._expected:,} records",
            f"{rate:,.0f} records/s",
            f"ETA {duration(left)}",
            f"written {summary.written:,}",
            f"failed {summary.failed:,}",
        ]
        self._stream.write("\r\x1b[K" + " · ".join(parts))
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
