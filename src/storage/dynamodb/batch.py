"""Batch requests to DynamoDB: cut to its limits, a bounded number in flight, retried
with backoff until a deadline.

DynamoDB may leave part of a batch undone (``UnprocessedItems``, ``UnprocessedKeys``) or
refuse a whole request (throttling, a 5xx, no connection). Both are retried with exponential
backoff and full jitter until the bulk call's retry deadline; whatever is still undone then
is reported per key as ``ItemFailed``, never dropped. Callers pass unique keys: DynamoDB
rejects a whole request that names one key twice.

Throttling and retries are visible: each retry is a log line (``dynamodb_retry``) and each
batch given up at the deadline another (``dynamodb_gave_up``), naming the store, the
reason and how many keys, never a key; a ``BatchObserver`` (the server's metrics) is told
the same.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from storage.dynamodb.errors import RetryReason, Transient
from storage.errors import StorageError, StorageUnavailable
from storage.records import ItemFailed

#: DynamoDB's limits on one BatchWriteItem and one BatchGetItem request.
MAX_WRITE_BATCH = 25
MAX_GET_BATCH = 100
#: Sends one request for these keys and answers the keys DynamoDB left unprocessed.
#: The store that sends it knows what a key stands for and how to map errors.
Send = Callable[[list[str]], Awaitable[list[str]]]

log = structlog.get_logger("storage.dynamodb")


class BatchObserver(Protocol):
    """Told of every retry and every batch given up, by store ("records", "audit")."""

    def retried(self, store: str, reason: RetryReason) -> None: ...

    def gave_up(self, store: str, reason: RetryReason, keys: int) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """How one bulk call retries, and how many batch requests it keeps in flight.

    The n-th retry of a batch waits a random time in ``[0, min(cap, base * 2**n)]``. No retry
    starts once ``retry_deadline`` seconds have passed since the call began; every batch is
    sent at least once, however long it waited for its turn.
    """

    retry_deadline: float = 10.0
    backoff_base: float = 0.025
    backoff_cap: float = 1.0
    max_concurrency: int = 8

    def __post_init__(self) -> None:
        if not self.retry_deadline > 0:
            raise ValueError("retry_deadline must be positive")
        if not 0 < self.backoff_base <= self.backoff_cap:
            raise ValueError("backoff_base must be positive and at most backoff_cap")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(attempt, 32))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


class BatchCall:
    """The batch requests of one bulk call, sharing its deadline and its concurrency bound.

    The deadline is the call's: a put's read of createdAt and its writes share it, so a
    caller waits at most about ``retry_deadline`` plus one round of requests; the re-read
    of a put's marks after its writes (``records``) is a call of its own, so a put may wait
    twice that. If no request
    of the call got an answer from DynamoDB and something failed, DynamoDB is unreachable:
    that is ``StorageUnavailable`` for the whole call, not a failure per item.
    """

    def __init__(
        self, policy: BatchPolicy, *, store: str = "", observer: BatchObserver | None = None
    ) -> None:
        self._policy = policy
        self._store = store
        self._observer = observer
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + policy.retry_deadline
        self._in_flight = asyncio.Semaphore(policy.max_concurrency)
        self._reached = False
        self._unreachable: Transient | None = None

    async def send_in_batches(
        self, keys: Sequence[str], batch_size: int, send: Send
    ) -> dict[str, ItemFailed]:
        """Cut ``keys`` (unique) into batches of ``batch_size`` and ``send`` each, then what
        is left of it, until nothing is or the deadline passes; answer the keys still undone.

        ``send`` raises storage errors (``map_dynamodb_errors``): a ``Transient`` one is
        retried like unprocessed keys, any other stands for the whole call and is raised.
        """
        failed: dict[str, ItemFailed] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for start in range(0, len(keys), batch_size):
                    batch = list(keys[start : start + batch_size])
                    group.create_task(self._drive(batch, send, failed))
        except* StorageError as errors:
            # The first call-level error stands for the whole call.
            raise errors.exceptions[0]  # noqa: B904 - it carries its own cause already
        if failed and not self._reached:
            raise StorageUnavailable("DynamoDB could not be reached") from self._unreachable
        return failed

    async def _drive(self, pending: list[str], send: Send, failed: dict[str, ItemFailed]) -> None:
        """Send one batch, then what is left of it, until nothing is or time is up."""
        for attempt in itertools.count():
            kind: RetryReason
            try:
                async with self._in_flight:
                    pending = await send(pending)
                self._reached = True
                reason, kind = "DynamoDB left it unprocessed", "unprocessed"
            except Transient as exc:
                self._reached |= exc.reached
                if not exc.reached:
                    self._unreachable = exc
                reason, kind = str(exc), exc.kind
            if not pending:
                return
            delay = self._policy.backoff(attempt)
            if self._loop.time() + delay > self._deadline:
                failed.update(dict.fromkeys(pending, ItemFailed(f"{reason} until the deadline")))
                log.warning("dynamodb_gave_up", store=self._store, reason=kind, keys=len(pending))
                if self._observer is not None:
                    self._observer.gave_up(self._store, kind, len(pending))
                return
            log.info(
                "dynamodb_retry", store=self._store, reason=kind, keys=len(pending), attempt=attempt
            )
            if self._observer is not None:
                self._observer.retried(self._store, kind)
            await asyncio.sleep(delay)
