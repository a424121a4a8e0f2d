"""The relay's counters as CloudWatch Embedded Metric Format lines: one per invocation,
valid EMF, the summary's counts, and never a value."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from relay import handler as lambda_handler
from relay.malformed import Malformed
from relay.metrics import EmbeddedMetrics, emf_line
from relay.summary import Summary
from tests.relay.factory import key, kinesis_record, lambda_event, pii_line, pojo_item, raw_record

from .servers import LambdaContext, RelayFactory, Vault, invoke

pytestmark = pytest.mark.socket

ORIGINALS = [f"pii-canary-metrics-{n}@example.org" for n in range(3)]
#: The units CloudWatch accepts in EMF (the ones the relay could use).
UNITS = {"Count", "Milliseconds", "Seconds", "None"}


def metrics_of(line: str) -> dict[str, Any]:
    """The metric values an EMF line declares, after checking it as CloudWatch would:
    a JSON object, ``_aws`` with an integer ``Timestamp`` and directives whose every
    metric and dimension is a top-level member of the right type."""
    document = json.loads(line)
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int)
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "Piinguin/Relay"
    for dimension_set in directive["Dimensions"]:
        assert 1 <= len(dimension_set) <= 30
        for dimension in dimension_set:
            assert isinstance(document[dimension], str)
            assert document[dimension]
    values = {}
    for metric in directive["Metrics"]:
        assert metric["Unit"] in UNITS
        value = document[metric["Name"]]
        assert isinstance(value, int | float)
        assert not isinstance(value, bool)
        values[metric["Name"]] = value
    return values


def emf_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if '"_aws"' in line]


def test_a_summary_becomes_one_emf_line() -> None:
    summary = Summary(
        records=7,
        pii_events=4,
        other_events=1,
        malformed={Malformed.BAD_BASE64: 1, Malformed.NO_PAIRS: 1},
        pairs=9,
        unique_keys=6,
        written=5,
        failed=1,
        failures={"UNAVAILABLE": 1},
    )
    now = time.time_ns() // 1_000_000
    line = emf_line(summary, reported=2, duration_ms=12.5, function_name="relay", now_ms=now)
    assert "\n" not in line
    assert metrics_of(line) == {
        "Records": 7,
        "PairsWritten": 5,
        "PairsFailed": 1,
        "PairsErased": 0,
        "Malformed": 2,
        "Reported": 2,
        "Duration": 12.5,
    }
    document = json.loads(line)
    assert (document["_aws"]["Timestamp"], document["FunctionName"]) == (now, "relay")
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]]


async def test_every_invocation_writes_one_line_of_its_own_counters(
    vault: Vault, make_relay: RelayFactory
) -> None:
    stream = io.StringIO()
    relay = make_relay(target=vault.target, metrics=EmbeddedMetrics(stream, "relay-fn"))
    first = lambda_event(
        kinesis_record(pii_line([pojo_item("user_id", ORIGINALS[0])]), 1),
        raw_record("not base64!", 2),
        kinesis_record(pii_line([pojo_item("user_id", ORIGINALS[1])]), 3),
    )
    second = lambda_event(kinesis_record(pii_line([pojo_item("user_id", ORIGINALS[2])]), 4))
    vault.storage.failing = {key(ORIGINALS[1])}
    assert len((await invoke(relay, first))["batchItemFailures"]) == 1
    await invoke(relay, second)
    lines = emf_lines(stream.getvalue())
    assert len(lines) == 2
    counted = [metrics_of(line) for line in lines]
    assert [{k: v for k, v in c.items() if k != "Duration"} for c in counted] == [
        {
            "Records": 3,
            "PairsWritten": 1,
            "PairsFailed": 1,
            "PairsErased": 0,
            "Malformed": 1,
            "Reported": 1,
        },
        {
            "Records": 1,
            "PairsWritten": 1,
            "PairsFailed": 0,
            "PairsErased": 0,
            "Malformed": 0,
            "Reported": 0,
        },
    ]
    assert all(c["Duration"] > 0 for c in counted)
    assert "pii-canary" not in stream.getvalue()


async def test_the_lambda_writes_its_metrics_to_stdout_under_its_function_name(
    vault: Vault,
    lambda_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_output: Callable[[], str],
) -> None:
    """Not through logging: the line is there whatever the log level (the logs of this
    test go to its log buffer, not to stdout)."""
    monkeypatch.setenv("PIINGUIN_TARGET", vault.target)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "piinguin-relay-prod")
    event = lambda_event(kinesis_record(pii_line([pojo_item("user_id", ORIGINALS[0])]), 1))
    answer = await asyncio.to_thread(lambda_handler.handler, event, LambdaContext())
    assert answer == {"batchItemFailures": []}
    (line,) = emf_lines(capsys.readouterr().out)
    assert metrics_of(line)["PairsWritten"] == 1
    assert json.loads(line)["FunctionName"] == "piinguin-relay-prod"
    assert ORIGINALS[0] not in line
    assert "relay_summary" in log_output()
    assert '"_aws"' not in log_output()
