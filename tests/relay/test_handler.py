"""The Lambda handler against a real server on a socket: exact ``batchItemFailures``,
pairs read back, warm reuse, restarts, deadlines, and no personal data in any log line."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from piinguin.tls import server_context
from relay.config import RelayConfig
from relay.extract import Pair
from relay.handler import BatchResponse, Relay
from relay.parse import parse_event
from tests.doubles import FaultyStorage, Hangs, StopsAfter
from tests.piinguin.access.certs import Authority
from tests.relay.factory import (
    expected_pair,
    json_item,
    key,
    kinesis_record,
    lambda_event,
    load_sample,
    page_view_line,
    pii_line,
    pojo_item,
    raw_record,
    sequence_number,
)

from .servers import RelayFactory, Vault, invoke, serving

pytestmark = pytest.mark.socket

ANN, BOB, CAT, DAN, EVE, FAY = (f"pii-canary-{n}@example.org" for n in "abcdef")
IP = "pii-canary-203.0.113.9"


def reported(*numbers: int) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": sequence_number(n)} for n in numbers]}


def user(original: str) -> Pair:
    return expected_pair(key(original), original, "user_id")


def mixed_batch() -> tuple[dict[str, Any], list[Pair]]:
    """PII events, another event, malformed records and a key carried twice; the pairs
    it should store."""
    event = lambda_event(
        kinesis_record(pii_line([pojo_item("user_id", ANN), pojo_item("user_ipaddress", IP)]), 1),
        kinesis_record(page_view_line(user_id=BOB), 2),
        raw_record("not base64 at all!", 3),
        kinesis_record(pii_line([pojo_item("user_id", ANN)], [json_item("contexts", CAT)]), 4),
        kinesis_record(pii_line([pojo_item("user_id", DAN)], count=130), 5),
        kinesis_record(pii_line([pojo_item("user_id", EVE)]), 6),
    )
    pairs = [
        user(ANN),
        expected_pair(key(IP), IP, "user_ipaddress"),
        expected_pair(
            key(CAT), CAT, "contexts", "$.emailAddress", "iglu:com.acme/email_sent/jsonschema/1-0-0"
        ),
        user(EVE),
    ]
    return event, pairs


def summaries(log_output: Callable[[], str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_output().splitlines()]
    return [line for line in lines if line["event"] == "relay_summary"]


def assert_no_pii(log_output: Callable[[], str], *originals: str) -> None:
    """Logs were written, and not one original value is in them."""
    output = log_output()
    assert "relay_summary" in output
    assert "pii-canary" not in output
    for original in originals:
        assert original not in output


async def test_a_mixed_batch_is_stored_and_every_pair_reads_back(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, pairs = mixed_batch()
    relay = make_relay(target=vault.target)
    assert await invoke(relay, event) == reported()
    assert await vault.stored(pairs) == pairs
    assert len(vault.storage.inner) == len(pairs)
    (summary,) = summaries(log_output)
    assert summary["level"] == "info"
    assert {k: v for k, v in summary.items() if k not in ("timestamp", "duration_ms")} == {
        "event": "relay_summary",
        "level": "info",
        "records": 6,
        "pii_events": 3,
        "other_events": 1,
        "pairs": 5,
        "unique_keys": 4,
        "written": 4,
        "failed": 0,
        "erased": 0,
        "reported": 0,
        "malformed_bad_base64": 1,
        "malformed_wrong_field_count": 1,
    }
    assert summary["duration_ms"] >= 0
    malformed = [
        json.loads(line) for line in log_output().splitlines() if "relay_malformed" in line
    ]
    assert [(m["sequence_number"], m["reason"]) for m in malformed] == [
        (sequence_number(3), "bad_base64"),
        (sequence_number(5), "wrong_field_count"),
    ]
    assert_no_pii(log_output)


async def test_items_the_server_fails_report_exactly_the_records_carrying_them(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, pairs = mixed_batch()
    vault.storage.failing = {key(ANN)}  # carried by records 1 and 4
    relay = make_relay(target=vault.target)
    assert await invoke(relay, event) == reported(1, 4)
    assert await vault.stored(pairs[1:]) == pairs[1:]
    (summary,) = summaries(log_output)
    assert (summary["written"], summary["failed"], summary["failed_unavailable"]) == (3, 1, 1)
    assert_no_pii(log_output)


async def test_pairs_the_server_would_always_refuse_are_skipped_as_malformed(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    huge = f"pii-canary-huge-{'x' * 64 * 1024}"  # over 64 KiB
    long_schema = "iglu:com.acme/" + "s" * 2048
    event = lambda_event(
        kinesis_record(pii_line([pojo_item("user_id", huge)]), 1),
        kinesis_record(pii_line([pojo_item("user_id", BOB)], app_id="a" * 2049), 2),
        kinesis_record(
            pii_line([pojo_item("user_id", CAT)], [json_item("contexts", DAN, schema=long_schema)]),
            3,
        ),
        kinesis_record(pii_line([pojo_item("user_id", EVE)]), 4),
    )
    relay = make_relay(target=vault.target)

    # Each delivery alike: nothing to redeliver, only the valid event stored.
    for _ in range(2):
        assert await invoke(relay, event) == reported()
    assert await vault.stored([user(EVE)]) == [user(EVE)]
    assert len(vault.storage.inner) == 1
    first, _ = summaries(log_output)
    assert (first["written"], first["failed"], first["reported"]) == (1, 0, 0)
    assert (first["malformed_no_pairs"], first["malformed_bad_pair"]) == (2, 1)
    malformed = [
        json.loads(line) for line in log_output().splitlines() if "relay_malformed" in line
    ]
    assert [(m["sequence_number"], m["reason"]) for m in malformed[:3]] == [
        (sequence_number(1), "no_pairs"),
        (sequence_number(2), "no_pairs"),
        (sequence_number(3), "bad_pair"),
    ]
    assert_no_pii(log_output, huge, BOB, CAT, DAN, EVE)


async def test_malformed_records_are_reported_when_asked(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, _ = mixed_batch()
    relay = make_relay(target=vault.target, fail_malformed=True)
    assert await invoke(relay, event) == reported(3, 5)
    assert_no_pii(log_output)


async def test_an_unreachable_server_reports_every_record_with_pairs(
    closed_target: str, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, _ = mixed_batch()
    relay = make_relay(target=closed_target)
    assert await invoke(relay, event) == reported(1, 4, 6)
    (summary,) = summaries(log_output)
    assert (summary["written"], summary["failed"], summary["failed_unavailable"]) == (0, 4, 4)
    assert "relay_call_failed" in log_output()
    assert_no_pii(log_output)


async def test_no_time_left_sends_nothing_and_reports_every_record_with_pairs(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, _ = mixed_batch()
    relay = make_relay(target=vault.target, safety_margin=1.0)
    assert await invoke(relay, event, remaining_ms=500) == reported(1, 4, 6)
    assert vault.peers == []
    assert len(vault.storage.inner) == 0
    (summary,) = summaries(log_output)
    assert summary["failed_deadline"] == 4
    assert_no_pii(log_output)


async def test_calls_unanswered_at_the_deadline_are_reported_not_lost(
    make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    originals = (ANN, BOB, CAT)
    event = lambda_event(
        *(
            kinesis_record(pii_line([pojo_item("user_id", o)]), n)
            for n, o in enumerate(originals, 1)
        )
    )
    storage = Hangs(writes=1)
    async with serving(storage) as vault:
        # One pair a call, one call at a time: the first is answered, the second hangs
        # past the deadline (0.3 s of the remaining 1.3 s), the third is never sent.
        relay = make_relay(target=vault.target, bulk_size=1, concurrency=1, safety_margin=1.0)
        assert await invoke(relay, event, remaining_ms=1300) == reported(2, 3)
        assert len(vault.peers) == 2
        assert len(storage.inner) == 1
        assert await storage.inner.get_many([key(ANN)]) != [None]
        storage.release.set()
        redelivery = lambda_event(*event["Records"][1:])
        assert await invoke(relay, redelivery) == reported()
        assert await vault.stored([user(o) for o in originals]) == [user(o) for o in originals]
    summary, _ = summaries(log_output)
    assert (summary["written"], summary["failed_deadline"]) == (1, 2)
    assert_no_pii(log_output)


async def test_warm_invocations_reuse_one_connection(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    relay = make_relay(target=vault.target)
    for n in (1, 2, 3):
        event = lambda_event(kinesis_record(pii_line([pojo_item("user_id", f"{ANN}{n}")]), n))
        assert await invoke(relay, event) == reported()
    assert len(vault.peers) == 3
    assert len(set(vault.peers)) == 1
    assert len(summaries(log_output)) == 3
    assert_no_pii(log_output)


async def test_a_server_restarted_between_invocations_is_reconnected_to(
    make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    first = lambda_event(kinesis_record(pii_line([pojo_item("user_id", ANN)]), 1))
    second = lambda_event(kinesis_record(pii_line([pojo_item("user_id", BOB)]), 2))
    async with serving(StopsAfter(writes=0)) as vault:
        relay = make_relay(target=vault.target)
        assert await invoke(relay, first) == reported()
        port = vault.port
    async with serving(StopsAfter(writes=0), port) as restarted:
        assert await invoke(relay, second) == reported()
        assert await restarted.stored([user(BOB)]) == [user(BOB)]
    assert_no_pii(log_output)


async def test_a_server_stopping_mid_batch_then_a_redelivery_loses_nothing(
    make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event, pairs = mixed_batch()  # keys in plan order: ANN, IP | CAT, EVE
    storage = StopsAfter(writes=1)
    async with serving(storage) as vault:
        relay = make_relay(target=vault.target, bulk_size=2, concurrency=1)
        answer = await invoke(relay, event)
        port = vault.port
    # The first call (ANN, IP) was answered; the drain refused the next one.
    assert answer == reported(4, 6)
    assert len(storage.inner) == 2
    assert None not in await storage.inner.get_many([key(ANN), key(IP)])

    # Lambda redelivers every record from the lowest sequence number reported.
    lowest = min(int(failure["itemIdentifier"]) for failure in answer["batchItemFailures"])
    redelivery = lambda_event(
        *(r for r in event["Records"] if int(r["kinesis"]["sequenceNumber"]) >= lowest)
    )
    assert len(redelivery["Records"]) == 3
    async with serving(storage, port) as restarted:
        assert await invoke(relay, redelivery) == reported()
        assert await restarted.stored(pairs) == pairs
    assert_no_pii(log_output)


async def test_the_sample_event_stores_its_pairs_and_skips_its_malformed_record(
    vault: Vault, make_relay: RelayFactory, log_output: Callable[[], str]
) -> None:
    event = json.loads(load_sample("kinesis-event.json"))
    first, second = parse_event(event)
    assert second.malformed == "wrong_field_count"
    relay = make_relay(target=vault.target)
    assert await invoke(relay, event) == reported()
    assert await vault.stored(first.pairs) == list(first.pairs)
    strict = make_relay(target=vault.target, fail_malformed=True)
    assert await invoke(strict, event) == {
        "batchItemFailures": [{"itemIdentifier": second.sequence_number}]
    }
    assert_no_pii(log_output, *(pair.original_value for pair in first.pairs))


async def test_mutual_tls(tmp_path: Path, log_output: Callable[[], str]) -> None:
    authority = Authority(tmp_path)
    server, relay_pem = authority.issue("localhost", server=True), authority.issue("relay")
    context = server_context(server.cert, server.key, client_ca=authority.pem.cert)
    event = lambda_event(kinesis_record(pii_line([pojo_item("user_id", ANN)]), 1))
    async with serving(FaultyStorage(), ssl_context=context) as vault:
        mutual = RelayConfig(
            target=vault.target,
            tls=True,
            tls_ca=authority.pem.cert,
            tls_cert=relay_pem.cert,
            tls_key=relay_pem.key,
        )
        # Without the CA, the system's CAs cannot verify the server: reported, not raised.
        untrusting = RelayConfig(target=vault.target, tls=True)
        answers = [await invoke_once(config, event) for config in (mutual, untrusting)]
        assert answers == [reported(), reported(1)]
        assert len(vault.storage.inner) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in log_output()
    assert_no_pii(log_output)


async def invoke_once(config: RelayConfig, event: dict[str, Any]) -> BatchResponse:
    """Invoke a new relay once, then close it as a process exit would.

    A TLS connection closes with a close_notify exchange, which needs the loop to run
    on; the relay's loop closes first and leaves the socket to the garbage collector,
    harmless at exit. Collected here, so that its ResourceWarning is not blamed on
    another test.
    """
    relay = Relay(config)
    try:
        return await invoke(relay, event)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            await asyncio.to_thread(relay.close)
            del relay
            gc.collect()
