"""The batch driver both DynamoDB stores share, on its own: a ``send`` here is a plain
function standing for one request, so the driver's contract is seen without a table."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from storage import ItemFailed, StorageMisconfigured, StorageUnavailable
from storage.dynamodb import BatchCall, BatchPolicy
from storage.dynamodb.errors import RetryReason, Transient

#: For tests that wait for the deadline; the others finish as soon as all is sent, and get
#: a deadline that no stall of a loaded machine reaches.
FAST = BatchPolicy(retry_deadline=0.2, backoff_base=0.001, backoff_cap=0.002, max_concurrency=2)
PATIENT = BatchPolicy(retry_deadline=30, backoff_base=0.001, backoff_cap=0.002, max_concurrency=2)
KEYS = [f"k{i}" for i in range(7)]


async def test_keys_go_out_in_batches_and_the_unprocessed_are_sent_again() -> None:
    sent: list[list[str]] = []

    async def send(batch: list[str]) -> list[str]:
        sent.append(batch)
        seen = [k for earlier in sent[:-1] for k in earlier]
        return [k for k in batch if k not in seen and k != batch[0]]  # all but one, once

    failed = await BatchCall(PATIENT).send_in_batches(KEYS, 3, send)

    assert failed == {}
    assert sorted(sent[:3]) == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]
    assert sorted(sent[3:]) == [["k1", "k2"], ["k4", "k5"]]


async def test_what_is_left_at_the_deadline_fails_per_key() -> None:
    async def send(batch: list[str]) -> list[str]:
        return [k for k in batch if k == "k4"]

    failed = await BatchCall(FAST).send_in_batches(KEYS, 3, send)

    assert failed == {"k4": ItemFailed("DynamoDB left it unprocessed until the deadline")}


async def test_at_most_max_concurrency_requests_are_in_flight() -> None:
    in_flight: list[list[str]] = []
    release = asyncio.Event()

    async def send(batch: list[str]) -> list[str]:
        in_flight.append(batch)
        await release.wait()
        in_flight.remove(batch)
        return []

    call = asyncio.create_task(BatchCall(PATIENT).send_in_batches(KEYS, 1, send))
    for _ in range(10):  # turns of the loop: every batch that may start has started
        await asyncio.sleep(0)
    held = len(in_flight)
    release.set()

    assert await call == {}
    assert held == PATIENT.max_concurrency


async def test_transient_errors_are_retried_and_others_stand_for_the_call() -> None:
    calls = 0

    async def flaky(batch: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Transient("DynamoDB throttled the request", reached=True, kind="throttled")
        return []

    async def broken(batch: list[str]) -> list[str]:
        raise StorageMisconfigured("no such table")

    assert await BatchCall(PATIENT).send_in_batches(["k"], 25, flaky) == {}
    assert calls == 2
    with pytest.raises(StorageMisconfigured, match="no such table"):
        await BatchCall(PATIENT).send_in_batches(KEYS, 3, broken)


async def test_never_reaching_dynamodb_fails_the_whole_call() -> None:
    async def unreachable(batch: list[str]) -> list[str]:
        raise Transient("DynamoDB could not be reached", reached=False, kind="unreachable")

    with pytest.raises(StorageUnavailable, match="could not be reached"):
        await BatchCall(FAST).send_in_batches(KEYS, 3, unreachable)


async def test_one_call_shares_its_deadline_between_its_requests() -> None:
    call = BatchCall(FAST)
    loop = asyncio.get_running_loop()

    async def stuck(batch: list[str]) -> list[str]:
        return batch

    async def done(batch: list[str]) -> list[str]:
        return []

    assert set(await call.send_in_batches(["a"], 25, stuck)) == {"a"}
    started = loop.time()
    # The first request used up the call's deadline: the next is sent, not retried for long.
    assert set(await call.send_in_batches(["b"], 25, stuck)) == {"b"}
    assert loop.time() - started < FAST.retry_deadline / 2
    assert await call.send_in_batches(["c"], 25, done) == {}


class Observed:
    def __init__(self) -> None:
        self.retries: list[tuple[str, str]] = []
        self.given_up: list[tuple[str, str, int]] = []

    def retried(self, store: str, reason: RetryReason) -> None:
        self.retries.append((store, reason))

    def gave_up(self, store: str, reason: RetryReason, keys: int) -> None:
        self.given_up.append((store, reason, keys))


async def test_retries_and_what_is_given_up_are_logged_and_observed_without_keys() -> None:
    throttled_once = False

    async def send(batch: list[str]) -> list[str]:
        nonlocal throttled_once
        if not throttled_once:
            throttled_once = True
            raise Transient("DynamoDB throttled the request", reached=True, kind="throttled")
        return [k for k in batch if k == "k4"]  # k4 is never processed

    observed = Observed()
    with capture_logs() as logs:
        failed = await BatchCall(FAST, store="records", observer=observed).send_in_batches(
            ["k3", "k4", "k5"], 3, send
        )

    assert list(failed) == ["k4"]
    assert observed.retries[0] == ("records", "throttled")
    assert set(observed.retries[1:]) == {("records", "unprocessed")}
    assert observed.given_up == [("records", "unprocessed", 1)]
    retries = [line for line in logs if line["event"] == "dynamodb_retry"]
    assert len(retries) == len(observed.retries)
    assert retries[0] == {
        "event": "dynamodb_retry",
        "log_level": "info",
        "store": "records",
        "reason": "throttled",
        "keys": 3,
        "attempt": 0,
    }
    assert [line for line in logs if line["event"] == "dynamodb_gave_up"] == [
        {
            "event": "dynamodb_gave_up",
            "log_level": "warning",
            "store": "records",
            "reason": "unprocessed",
            "keys": 1,
        }
    ]
    assert "k4" not in repr(logs)
