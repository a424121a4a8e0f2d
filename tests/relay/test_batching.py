"""A batch's writes and its exact answer to Lambda."""

from __future__ import annotations

import pytest

from relay.batching import WritePlan, batch_item_failures, plan_writes
from relay.extract import Pair
from relay.malformed import Malformed
from relay.parse import ParsedRecord, parse_event
from tests.relay.factory import (
    json_item,
    key,
    kinesis_record,
    lambda_event,
    page_view_line,
    pii_line,
    pojo_item,
    raw_record,
    sequence_number,
    stub_pair,
)

JOHN, JIM, JOE = key("john@acme.com"), key("jim@acme.com"), key("joe@acme.com")


def pii(number: int, *pairs: Pair) -> ParsedRecord:
    return ParsedRecord(str(number), pairs=pairs)


def test_one_write_per_key_the_last_occurrence_winning() -> None:
    records = [
        pii(1, stub_pair("a", "first"), stub_pair("b")),
        ParsedRecord("2", skipped=True),
        pii(3, stub_pair("c"), stub_pair("a", "second")),
        ParsedRecord("4", malformed=Malformed.BAD_JSON),
        pii(5, stub_pair("a", "third")),
    ]
    plan = plan_writes(records)
    assert plan.pairs == (stub_pair("a", "third"), stub_pair("b"), stub_pair("c"))
    assert plan.carriers == {"a": ("1", "3", "5"), "b": ("1",), "c": ("3",)}


def test_a_key_twice_in_one_record_is_carried_once() -> None:
    plan = plan_writes(
        [pii(1, stub_pair("a", "x"), stub_pair("a", "y")), pii(2, stub_pair("a", "z"))]
    )
    assert plan.pairs == (stub_pair("a", "z"),)
    assert plan.carriers == {"a": ("1", "2")}


def test_a_batch_without_pairs_plans_nothing() -> None:
    plan = plan_writes([ParsedRecord("1", skipped=True)])
    assert plan == WritePlan((), {})
    assert plan.requests(25) == []


@pytest.mark.parametrize(
    ("count", "size", "sizes"),
    [(1, 25, [1]), (25, 25, [25]), (26, 25, [25, 1]), (60, 25, [25, 25, 10]), (3, 1, [1, 1, 1])],
)
def test_requests_hold_at_most_size_pairs(count: int, size: int, sizes: list[int]) -> None:
    plan = plan_writes([pii(n, stub_pair(f"k{n}")) for n in range(count)])
    requests = plan.requests(size)
    assert [len(r) for r in requests] == sizes
    assert tuple(p for r in requests for p in r) == plan.pairs


@pytest.mark.parametrize("size", [0, -1])
def test_requests_need_room_for_a_pair(size: int) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plan_writes([pii(1, stub_pair("a"))]).requests(size)


def test_all_acknowledged_is_success() -> None:
    records = [
        pii(1, stub_pair("a")),
        ParsedRecord("2", skipped=True),
        pii(3, stub_pair("a"), stub_pair("b")),
    ]
    assert batch_item_failures(records, {"a", "b"}) == []


def test_a_failed_key_reports_every_record_that_carried_it() -> None:
    records = [
        pii(1, stub_pair("a"), stub_pair("b")),
        pii(2, stub_pair("c")),
        pii(3, stub_pair("a")),
        pii(4, stub_pair("b")),
    ]
    assert batch_item_failures(records, {"b", "c"}) == [
        {"itemIdentifier": "1"},
        {"itemIdentifier": "3"},
    ]


def test_a_key_never_acknowledged_counts_as_failed() -> None:
    assert batch_item_failures([pii(1, stub_pair("a"))], set()) == [{"itemIdentifier": "1"}]


def test_malformed_records_are_skipped_unless_asked_to_fail_them() -> None:
    records = [
        ParsedRecord("1", malformed=Malformed.BAD_BASE64),
        pii(2, stub_pair("a")),
        ParsedRecord("3", skipped=True),
        ParsedRecord("4", malformed=Malformed.NO_PAIRS),
        ParsedRecord("", malformed=Malformed.MISSING_FIELDS),
        pii(5, stub_pair("b")),
    ]
    assert batch_item_failures(records, {"a"}) == [{"itemIdentifier": "5"}]
    assert batch_item_failures(records, {"a"}, fail_malformed=True) == [
        {"itemIdentifier": "1"},
        {"itemIdentifier": "4"},
        {"itemIdentifier": "5"},
    ]


def test_a_mixed_lambda_event_end_to_end() -> None:
    """Duplicate keys across records, other events and malformed records, and one key
    whose write failed."""
    event = lambda_event(
        kinesis_record(pii_line([pojo_item("user_id", "john@acme.com")]), 1),
        kinesis_record(page_view_line(), 2),
        kinesis_record(
            pii_line(
                [pojo_item("user_id", "john@acme.com")],
                [json_item("contexts", "jim@acme.com", wrapped=True)],
            ),
            3,
        ),
        raw_record("@@@@", 4),
        kinesis_record(pii_line(None, [json_item("contexts", "joe@acme.com")]), 5),
        kinesis_record(pii_line([pojo_item("user_id", "")]), 6),
        kinesis_record(pii_line(None, [json_item("unstruct_event", "jim@acme.com")]), 7),
    )
    records = parse_event(event)
    plan = plan_writes(records)
    assert [p.modified_value for p in plan.pairs] == [JOHN, JIM, JOE]
    assert plan.pairs[1].field_name == "unstruct_event"  # record 7's, the last
    assert plan.carriers == {
        JOHN: (sequence_number(1), sequence_number(3)),
        JIM: (sequence_number(3), sequence_number(7)),
        JOE: (sequence_number(5),),
    }
    assert [len(r) for r in plan.requests(2)] == [2, 1]

    assert batch_item_failures(records, {JOHN, JIM, JOE}) == []
    assert batch_item_failures(records, {JOHN, JOE}) == [
        {"itemIdentifier": sequence_number(3)},
        {"itemIdentifier": sequence_number(7)},
    ]
    assert batch_item_failures(records, {JIM}, fail_malformed=True) == [
        {"itemIdentifier": sequence_number(n)} for n in (1, 3, 4, 5, 6)
    ]
