"""The AWS Lambda entry point, ``relay.handler.handler``: a Kinesis batch in, a partial
batch response out.

**One event loop per process.** An asyncio client is bound to the loop it was opened in,
and ``asyncio.run()`` closes its loop when it returns: a client kept at module scope
across ``asyncio.run()`` calls meets a dead loop on the next invocation. Reconnecting on
every invocation would work but pays TCP and TLS set-up (and the server a new
connection) on every batch. So a ``Relay`` owns an ``asyncio.Runner``, whose loop stays
open between invocations, and the client opened inside it: warm invocations reuse the
HTTP/2 connection. Between invocations the loop is idle (Lambda freezes the process);
a connection that died meanwhile, or whose server is draining, fails its first call as
``Unavailable``, and the writer retries once on a new connection (``relay.connection``).
The relay is created on the first invocation, never at import, and closed at exit.

**Answer.** Records whose every pair the server acknowledged (or refused for good, as
INVALID_ARGUMENT) are done; any other record with pairs is reported in
``batchItemFailures``, and Lambda redelivers from the lowest one. Pairs the server would
always refuse never get that far: parsing counts them as malformed. Writes stop a safety
margin before the function's timeout: pairs unsent or unanswered by then are reported,
not lost. Data problems never raise; a bad configuration does (``OptionError``, naming
the variable), and so does a secret that cannot be read (``PIINGUIN_TOKEN_SECRET`` and
the like are read once, when the relay is created, and never logged): Lambda retries the
batch, and the next invocation tries again.

**Metrics.** Each invocation writes its counters to stdout as one CloudWatch Embedded
Metric Format line (``relay.metrics``), whatever the log level.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog

from piinguin.logs import configure_logging
from relay.batching import batch_item_failures
from relay.config import RelayConfig
from relay.connection import Connection
from relay.metrics import EmbeddedMetrics
from relay.parse import ParsedRecord, parse_event
from relay.pipeline import log_malformed, relay_records
from relay.summary import Summary

log = structlog.get_logger("relay")

#: Seconds kept back from the function's remaining time, to answer Lambda in.
SAFETY_MARGIN_SEC = 1.0

BatchResponse = dict[str, list[dict[str, str]]]


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Relay:
    """A process's relay: its configuration, an event loop and a connection opened in it."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        safety_margin: float = SAFETY_MARGIN_SEC,
        metrics: EmbeddedMetrics | None = None,
    ) -> None:
        self.config = config
        self._safety_margin = safety_margin
        self._metrics = metrics
        # Reads the secrets and loads the TLS files now; connects on the first call.
        self.connection = Connection(config)
        self._runner = asyncio.Runner()

    def invoke(self, event: Mapping[str, Any], remaining_ms: int) -> BatchResponse:
        """Relay one Lambda Kinesis event with ``remaining_ms`` left before the timeout."""
        started = time.monotonic()
        budget_end = started + remaining_ms / 1000 - self._safety_margin
        records = parse_event(event)
        log_malformed(records)
        summary, settled = self._runner.run(self._write(records, budget_end))
        failures = batch_item_failures(records, settled, fail_malformed=self.config.fail_malformed)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        log.info(
            "relay_summary", **summary.as_log(), reported=len(failures), duration_ms=duration_ms
        )
        if self._metrics is not None:
            self._metrics.publish(summary, reported=len(failures), duration_ms=duration_ms)
        return {"batchItemFailures": failures}

    async def _write(
        self, records: Sequence[ParsedRecord], budget_end: float
    ) -> tuple[Summary, set[str]]:
        deadline = asyncio.get_running_loop().time() + (budget_end - time.monotonic())
        return await relay_records(
            self.connection,
            records,
            bulk_size=self.config.bulk_size,
            concurrency=self.config.concurrency,
            deadline=deadline,
        )

    def close(self) -> None:
        """Close the connection, then the loop."""
        try:
            self._runner.run(self.connection.close())
        finally:
            self._runner.close()


@functools.cache
def _relay() -> Relay:
    config = RelayConfig.from_environ(os.environ)
    if not structlog.is_configured():  # a host that set logging up (tests) keeps its own
        configure_logging(config.log_level, "json")
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "piinguin-relay")
    relay = Relay(config, metrics=EmbeddedMetrics(sys.stdout, function_name))
    atexit.register(close)
    return relay


def handler(event: Mapping[str, Any], context: LambdaContext) -> BatchResponse:
    """Lambda's handler: configured from ``PIINGUIN_*`` variables on the first call."""
    return _relay().invoke(event, context.get_remaining_time_in_millis())


def close() -> None:
    """Close the process's relay, if there is one; the next invocation opens another."""
    atexit.unregister(close)
    if _relay.cache_info().currsize:
        relay = _relay()
        _relay.cache_clear()
        relay.close()
