"""A batch's counters."""

from __future__ import annotations

import dataclasses

from relay.batching import plan_writes
from relay.malformed import Malformed
from relay.parse import ParsedRecord
from relay.summary import Summary
from tests.relay.factory import stub_pair

RECORDS = [
    ParsedRecord("1", pairs=(stub_pair("a"), stub_pair("b"))),
    ParsedRecord("2", skipped=True),
    ParsedRecord("3", malformed=Malformed.BAD_JSON),
    ParsedRecord("4", pairs=(stub_pair("a"),)),
    ParsedRecord("5", malformed=Malformed.BAD_JSON),
    ParsedRecord("6", malformed=Malformed.NOT_UTF8),
    ParsedRecord("7", skipped=True),
]


def test_counts_a_batch() -> None:
    assert Summary.of(RECORDS, plan_writes(RECORDS)) == Summary(
        records=7,
        pii_events=2,
        other_events=2,
        malformed={Malformed.BAD_JSON: 2, Malformed.NOT_UTF8: 1},
        pairs=3,
        unique_keys=2,
    )


def test_the_handler_adds_what_became_of_the_writes() -> None:
    summary = dataclasses.replace(Summary.of(RECORDS, plan_writes(RECORDS)), written=1, failed=1)
    assert summary.as_log() == {
        "records": 7,
        "pii_events": 2,
        "other_events": 2,
        "pairs": 3,
        "unique_keys": 2,
        "written": 1,
        "failed": 1,
        "erased": 0,
        "malformed_bad_json": 2,
        "malformed_not_utf8": 1,
    }


def test_an_empty_batch() -> None:
    assert Summary.of([], plan_writes([])).as_log() == {
        "records": 0,
        "pii_events": 0,
        "other_events": 0,
        "pairs": 0,
        "unique_keys": 0,
        "written": 0,
        "failed": 0,
        "erased": 0,
    }


def test_failures_by_reason_and_two_batches_together() -> None:
    first = dataclasses.replace(
        Summary.of(RECORDS, plan_writes(RECORDS)),
        written=1,
        failed=1,
        failures={"UNAVAILABLE": 1},
    )
    second = Summary(
        records=2,
        pii_events=1,
        other_events=0,
        malformed={Malformed.BAD_JSON: 1},
        pairs=2,
        unique_keys=2,
        written=0,
        failed=2,
        failures={"UNAVAILABLE": 1, "deadline": 1},
        erased=2,
    )
    assert (first + second).as_log() == {
        "records": 9,
        "pii_events": 3,
        "other_events": 2,
        "pairs": 5,
        "unique_keys": 4,
        "written": 1,
        "failed": 3,
        "erased": 2,
        "malformed_bad_json": 3,
        "malformed_not_utf8": 1,
        "failed_unavailable": 2,
        "failed_deadline": 1,
    }


def test_a_sentence_for_people() -> None:
    summary = dataclasses.replace(Summary.of(RECORDS, plan_writes(RECORDS)), written=1, failed=1)

    assert summary.sentence() == (
        "7 lines: 2 PII events, 2 other events, 3 malformed (bad_json 2, not_utf8 1);"
        " 1 key written, 1 failed"
    )


def test_erased_keys_are_counted_apart_and_said_only_when_there_are_some() -> None:
    summary = dataclasses.replace(
        Summary.of(RECORDS, plan_writes(RECORDS)), written=1, failed=0, erased=1
    )
    assert (summary.as_log()["erased"], summary.as_log()["failed"]) == (1, 0)
    assert summary.sentence().endswith("; 1 key written, 0 failed, 1 erased")
