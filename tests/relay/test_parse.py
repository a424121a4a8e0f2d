"""Whole records, from Lambda's dict to a ParsedRecord, including the shared samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.extract import Pair
from relay.malformed import Malformed
from relay.parse import ParsedRecord, parse_event, parse_line, parse_record
from tests.relay.factory import (
    expected_pair,
    json_item,
    key,
    kinesis_record,
    lambda_event,
    load_sample,
    page_view_line,
    pii_json,
    pii_line,
    pojo_item,
    raw_record,
    sequence_number,
)

SAMPLE_SEQUENCE_NUMBERS = (
    "49590338271490256608559692538361571095921575989136588898",
    "49590338271490256608559692538361571095921575989136588899",
)


SAMPLE_PAIRS = (
    expected_pair(
        "27abac60dff12792c6088b8d00ce7f25c86b396b8c3740480cd18e21068ecff4",
        "its_you_again!",
        "user_fingerprint",
    ),
    expected_pair(
        "dd9720903c89ae891ed5c74bb7a9f2f90f6487927ac99afe73b096ad0287f3f5",
        "70.46.123.145",
        "user_ipaddress",
    ),
    expected_pair(
        "7d8a4beae5bc9d314600667d2f410918f9af265017a6ade99f60a9c8f3aac6e9",
        "john@acme.com",
        "user_id",
    ),
    expected_pair(
        "269c433d0cc00395e3bc5fe7f06c5ad822096a38bec2d8a005367b52c0dfb428",
        "50.56.129.169",
        "unstruct_event",
        "$.ip",
        "iglu:com.mailgun/message_clicked/jsonschema/1-0-0",
    ),
    expected_pair(
        "72f323d5359eabefc69836369e4cabc6257c43ab6419b05dfb2211d0e44284c6",
        "jim@acme.com",
        "contexts",
        "$.emailAddress",
        "iglu:com.acme/email_sent/jsonschema/1-0-0",
    ),
)


def test_the_shared_tsv_sample() -> None:
    assert parse_line(load_sample("pii-event.tsv")) == SAMPLE_PAIRS


def test_the_shared_kinesis_sample() -> None:
    """Its first record is the TSV sample; its second has 130 fields (true_tstamp is
    missing), which is no enriched event this relay reads."""
    event = json.loads(load_sample("kinesis-event.json"))
    assert parse_event(event) == [
        ParsedRecord(SAMPLE_SEQUENCE_NUMBERS[0], pairs=SAMPLE_PAIRS),
        ParsedRecord(SAMPLE_SEQUENCE_NUMBERS[1], malformed=Malformed.WRONG_FIELD_COUNT),
    ]


def _record(kind: str) -> dict[str, Any]:
    """One record of each kind, all with sequence number 7."""
    lines = {
        "pii": pii_line([pojo_item("user_id", "john@acme.com")]),
        "page_view": page_view_line(),
        "wrong_field_count": pii_line([pojo_item("user_id", "john@acme.com")], count=130),
        "bad_json": pii_line(unstruct_event='{"data": '),
        "no_pairs": pii_line([], []),
        "bad_pair": pii_line([pojo_item("user_id", "john@acme.com"), pojo_item("user_id", "")]),
    }
    if kind in lines:
        return kinesis_record(lines[kind], 7)
    if kind == "not_utf8":
        return kinesis_record(b"\xc3\x28", 7)
    if kind == "bad_base64":
        return raw_record("not base64!", 7)
    assert kind == "missing_fields"
    return raw_record(None, 7)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "pii",
            ParsedRecord(
                sequence_number(7),
                pairs=(expected_pair(key("john@acme.com"), "john@acme.com", "user_id"),),
            ),
        ),
        ("page_view", ParsedRecord(sequence_number(7), skipped=True)),
        *(
            (reason.value, ParsedRecord(sequence_number(7), malformed=reason))
            for reason in Malformed
        ),
    ],
)
def test_each_kind_of_record(kind: str, expected: ParsedRecord) -> None:
    assert parse_record(_record(kind)) == expected


def test_a_record_without_sequence_number_parses_as_malformed() -> None:
    record = kinesis_record(page_view_line(), 1)
    del record["kinesis"]["sequenceNumber"]
    assert parse_record(record) == ParsedRecord("", malformed=Malformed.MISSING_FIELDS)


def test_a_parsed_record_holds_exactly_one_outcome() -> None:
    pair = Pair("k", "v", "user_id", "", "", "", "ads", None)
    with pytest.raises(ValueError, match="exactly one"):
        ParsedRecord("1")
    with pytest.raises(ValueError, match="exactly one"):
        ParsedRecord("1", pairs=(pair,), skipped=True)
    with pytest.raises(ValueError, match="exactly one"):
        ParsedRecord("1", skipped=True, malformed=Malformed.BAD_JSON)
    with pytest.raises(ValueError, match="exactly one"):
        ParsedRecord("1", pairs=(pair,), malformed=Malformed.BAD_PAIR)


def test_parse_event_keeps_kinesis_order() -> None:
    event = lambda_event(
        kinesis_record(page_view_line(), 1),
        kinesis_record(pii_line(None, [json_item("contexts", "jim@acme.com")]), 2),
        raw_record("%%%", 3),
    )
    parsed = parse_event(event)
    assert [r.sequence_number for r in parsed] == [sequence_number(n) for n in (1, 2, 3)]
    assert [bool(r.pairs) for r in parsed] == [False, True, False]


def test_an_event_without_records_is_not_a_kinesis_event() -> None:
    with pytest.raises(KeyError):
        parse_event({"Records2": []})


def test_no_original_value_in_any_repr_or_reason() -> None:
    originals = ["john@acme.com", "jim@acme.com", "its_you_again!", "70.46.123.145"]
    event = lambda_event(
        kinesis_record(load_sample("pii-event.tsv"), 1),
        kinesis_record(pii_line([pojo_item("user_id", "john@acme.com")], count=132), 2),
        kinesis_record(pii_line([pojo_item("user_id", "john@acme.com"), {"x": 1}]), 3),
        kinesis_record(
            pii_line(unstruct_event=pii_json([pojo_item("user_id", "jim@acme.com")])[:-1]), 4
        ),
        kinesis_record(b"john@acme.com\xff", 5),
        raw_record("john@acme.com", 6),
    )
    parsed = parse_event(event)
    assert {r.malformed for r in parsed} == {
        None,
        Malformed.WRONG_FIELD_COUNT,
        Malformed.BAD_PAIR,
        Malformed.BAD_JSON,
        Malformed.NOT_UTF8,
        Malformed.BAD_BASE64,
    }
    text = repr(parsed) + "".join(str(r.malformed) for r in parsed)
    for original in originals:
        assert original not in text
