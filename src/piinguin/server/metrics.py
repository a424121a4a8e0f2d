"""Prometheus metrics: what the server counts, and the ``/metrics`` endpoint that shows it.

The call tracker feeds them; every label value comes from a fixed set (method names of the
served services, gRPC status names, denial reasons), never from a request, so no key or
value can reach a label.

With ``--workers N`` every worker counts into its own files in one directory (prometheus
client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) and the supervisor alone serves
``/metrics``, summing them: one scrape sees all workers. ``shared_by_workers`` sets that up
and removes the directory at the end.

The endpoint is prometheus-client's own threaded HTTP server rather than a handler on the
event loop: the supervisor of ``--workers`` has no event loop and its scrape reads the
workers' files, which must not block one; a single server uses the same code; and the
library's handler already negotiates the format (OpenMetrics or text) and compression.
Between scrapes its thread waits in ``select`` and costs the calls nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator

import structlog
from grpclib.const import Status
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from piinguin.access.policy import DENIAL_REASONS, DenialReason
from piinguin.logs import STATUS_NAMES
from storage.dynamodb import RETRY_REASONS, RetryReason

log = structlog.get_logger("piinguin.server.metrics")

#: Where prometheus-client keeps each process's values in multiprocess mode. It reads the
#: variable when it is first imported, so the supervisor sets it before workers start.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

#: A unary call takes a fraction of a millisecond; a bulk call on DynamoDB, seconds.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Up to --max-bulk-items' own limit, 100000.
ITEM_BUCKETS = (1, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 100_000)


class Metrics:
    """The server's metrics, in a registry of their own (tests run several servers in one
    process; the process-wide default registry would refuse the second)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.calls = Counter(
            "piinguin_calls",
            "Calls answered, by method and gRPC status code.",
            ["method", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "piinguin_call_duration_seconds",
            "Time from a call's arrival at its handler to its answer, by method.",
            ["method"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.bulk_items = Histogram(
            "piinguin_bulk_call_items",
            "Items (records or keys) in each bulk call answered OK, by method.",
            ["method"],
            buckets=ITEM_BUCKETS,
            registry=registry,
        )
        denials = Counter(
            "piinguin_denials",
            "Calls refused by authentication or the policy, by reason.",
            ["reason"],
            registry=registry,
        )
        self.denials = {reason: denials.labels(reason) for reason in DENIAL_REASONS}
        self.audit_failures = Counter(
            "piinguin_audit_failures",
            "Audit events the audit store could not take (the call that made them was "
            "answered UNAVAILABLE, or, for a refusal, refused all the same).",
            registry=registry,
        )
        self.storage = StorageRetries(registry)
        # Across workers: calls in flight add up; the unit is ready when every worker is.
        self._in_flight = Gauge(
            "piinguin_calls_in_flight",
            "Calls being handled now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.in_flight_per_call: Gauge | None = None
        self.ready = Gauge(
            "piinguin_storage_ready",
            "1 once storage and the audit store answered and health reports SERVING; "
            "0 before that and while draining.",
            registry=registry,
            multiprocess_mode="livemin",
        )

    def watch_in_flight(self, count: Callable[[], int]) -> None:
        """Show ``count()`` as the calls in flight. In one process a scrape reads it, and
        calls pay nothing. Under ``--workers`` the supervisor reads the workers' files, not
        their memory: each call updates the gauge as it starts and ends."""
        if MULTIPROC_DIR in os.environ:  # as prometheus-client decides, when imported
            self.in_flight_per_call = self._in_flight
        else:
            self._in_flight.set_function(count)

    def method(self, name: str, *, bulk: bool) -> MethodMetrics:
        return MethodMetrics(self, name, bulk=bulk)


#: The stores whose DynamoDB requests are counted.
STORES = ("records", "audit")


class StorageRetries:
    """DynamoDB's throttling and retries as counters: a ``BatchObserver`` for both stores.
    The labels are the store ("records", "audit") and a reason from ``RETRY_REASONS``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        retries = Counter(
            "piinguin_storage_retries",
            "DynamoDB batch requests tried again, by store and reason (throttled, "
            "unprocessed items, a DynamoDB failure, unreachable).",
            ["store", "reason"],
            registry=registry,
        )
        failures = Counter(
            "piinguin_storage_item_failures",
            "Items given up at the retry deadline (answered UNAVAILABLE), by store and reason.",
            ["store", "reason"],
            registry=registry,
        )
        self._retries = {
            (store, reason): retries.labels(store, reason)
            for store in STORES
            for reason in RETRY_REASONS
        }
        self._failures = {
            (store, reason): failures.labels(store, reason)
            for store in STORES
            for reason in RETRY_REASONS
        }

    def retried(self, store: str, reason: RetryReason) -> None:
        self._retries[store, reason].inc()

    def gave_up(self, store: str, reason: RetryReason, keys: int) -> None:
        self._failures[store, reason].inc(keys)


_OK = Status.OK  # a module global: an attribute of the enum class costs more


class MethodMetrics:
    """One method's children, resolved when the server is built: a call costs a dict
    lookup, a counter increment and a histogram observation, and no label lookup."""

    __slots__ = (
        "_by_code", "_calls", "_denials", "_in_flight", "_method", "bulk_items", "duration",
    )  # fmt: skip

    def __init__(self, metrics: Metrics, name: str, *, bulk: bool) -> None:
        self._calls = metrics.calls
        self._method = name
        self._denials = metrics.denials
        # A code's child is made the first time the method answers with it, so a scrape
        # shows only codes that happened. (By member: an enum's .value costs more.)
        self._by_code: dict[Status, Counter] = {}
        self.duration = metrics.duration.labels(name)
        self.bulk_items = metrics.bulk_items.labels(name) if bulk else None
        self._in_flight = metrics.in_flight_per_call

    def started(self) -> None:
        if self._in_flight is not None:
            self._in_flight.inc()

    def finished(
        self, status: Status, seconds: float, items: int, denial: DenialReason | None
    ) -> None:
        if self._in_flight is not None:
            self._in_flight.dec()
        counter = self._by_code.get(status)
        if counter is None:
            counter = self._by_code[status] = self._calls.labels(self._method, STATUS_NAMES[status])
        counter.inc()
        self.duration.observe(seconds)
        if self.bulk_items is not None and status is _OK:
            self.bulk_items.observe(items)
        if denial is not None:
            self._denials[denial].inc()


class Endpoint:
    """``registry`` served at ``http://host:port/metrics`` from a thread; ``port`` is the
    one bound (the kernel's pick for port 0)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = self._server.server_port

    def close(self) -> None:
        """Stop serving; blocks up to half a second (the server thread's poll interval)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextlib.asynccontextmanager
async def exposed(
    host: str, port: int | None, *, serve: bool = True
) -> AsyncIterator[Metrics | None]:
    """The server's metrics, served at ``/metrics`` on ``port`` unless ``serve`` is false
    (a worker's supervisor serves them); None when ``port`` is None (no metrics)."""
    if port is None:
        yield None
        return
    metrics = Metrics()
    if not serve:
        yield metrics
        return
    served = Endpoint(metrics.registry, host, port)
    log.info("metrics_listening", host=host, port=served.port)
    try:
        yield metrics
    finally:
        await asyncio.to_thread(served.close)


@contextlib.contextmanager
def shared_by_workers(host: str, port: int) -> Iterator[int]:
    """For ``--workers``: a directory where every worker started inside the block keeps
    its values, and ``/metrics`` serving their sum; yield the port. The directory goes
    when the block ends."""
    folder = tempfile.mkdtemp(prefix="piinguin-metrics-")
    previous = os.environ.get(MULTIPROC_DIR)
    os.environ[MULTIPROC_DIR] = folder
    try:
        registry = CollectorRegistry()
        # Untyped in prometheus-client 0.26; it registers itself with the registry.
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        served = Endpoint(registry, host, port)
        log.info("metrics_listening", host=host, port=served.port, workers_dir=folder)
        try:
            yield served.port
        finally:
            served.close()
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = previous
        shutil.rmtree(folder, ignore_errors=True)
