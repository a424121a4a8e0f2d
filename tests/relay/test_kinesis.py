"""Decoding Lambda Kinesis records at the edge: base64, UTF-8, and nothing raised."""

from __future__ import annotations

from typing import Any

import pytest

from relay.kinesis import KinesisRecord, decode_record
from relay.malformed import Malformed
from tests.relay.factory import kinesis_record, raw_record, sequence_number

LINE = "ads\tsrv\tjohn@acme.com"


def test_decodes_sequence_number_partition_key_and_line() -> None:
    record = decode_record(kinesis_record(LINE, 1, partition_key="pk-1"))
    assert record == KinesisRecord(sequence_number(1), "pk-1", LINE)
    assert record.failure is None
    assert record.sequence == int(sequence_number(1))


def test_tolerates_one_trailing_newline_and_no_more() -> None:
    assert decode_record(kinesis_record(LINE + "\n", 1)).line == LINE
    assert decode_record(kinesis_record(LINE + "\n\n", 1)).line == LINE + "\n"


def test_decodes_utf8_text() -> None:
    assert decode_record(kinesis_record("jöhn\t€", 1)).line == "jöhn\t€"


def test_sequence_orders_numerically_not_as_text() -> None:
    short = KinesisRecord("9", "", LINE)
    long = KinesisRecord("10", "", LINE)
    assert sorted([long, short], key=lambda r: r.sequence) == [short, long]


@pytest.mark.parametrize(
    "data",
    [
        "YQ=a",  # padding inside
        "=YWJ",  # padding first
        "YQ===",  # too much padding
        "YQ",  # missing padding
        "YW Jj",  # a space, which b64decode would skip silently
        "YWJj\n",
        "!!!!",
        "YWJjé",  # not even ASCII
    ],
)
def test_bad_base64_is_a_reason_not_an_exception(data: str) -> None:
    record = decode_record(raw_record(data, 3, partition_key="pk-3"))
    assert record == KinesisRecord(sequence_number(3), "pk-3", failure=Malformed.BAD_BASE64)


def test_bytes_that_are_not_utf8_are_a_reason() -> None:
    record = decode_record(kinesis_record(b"ads\t\xff\xfe", 4))
    assert record.failure is Malformed.NOT_UTF8
    assert record.line == ""
    assert record.sequence_number == sequence_number(4)


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    record = kinesis_record(LINE, 5)
    parent = record
    for name in path[:-1]:
        parent = parent[name]
    del parent[path[-1]]
    return record


@pytest.mark.parametrize(
    ("record", "expected_sequence_number"),
    [
        pytest.param(_without(("kinesis", "data")), sequence_number(5), id="no data"),
        pytest.param(raw_record(None, 5), sequence_number(5), id="null data"),
        pytest.param(raw_record(b"YWJj", 5), sequence_number(5), id="data not text"),
        pytest.param(_without(("kinesis", "sequenceNumber")), "", id="no sequence number"),
        pytest.param(
            {"kinesis": {**kinesis_record(LINE, 5)["kinesis"], "sequenceNumber": 5}},
            "",
            id="sequence number not text",
        ),
        pytest.param(
            {"kinesis": {**kinesis_record(LINE, 5)["kinesis"], "sequenceNumber": "12a"}},
            "",
            id="sequence number not digits",
        ),
        pytest.param(
            {"kinesis": {**kinesis_record(LINE, 5)["kinesis"], "sequenceNumber": "١٢"}},
            "",
            id="sequence number in other digits",
        ),
        pytest.param(_without(("kinesis",)), "", id="no kinesis"),
        pytest.param({"kinesis": "data"}, "", id="kinesis not an object"),
        pytest.param(None, "", id="record not an object"),
    ],
)
def test_missing_fields_are_a_reason(record: object, expected_sequence_number: str) -> None:
    decoded = decode_record(record)
    assert decoded.failure is Malformed.MISSING_FIELDS
    assert decoded.sequence_number == expected_sequence_number
    assert decoded.line == ""


def test_missing_sequence_number_orders_first() -> None:
    assert decode_record(_without(("kinesis", "sequenceNumber"))).sequence == -1


def test_a_missing_partition_key_is_no_failure() -> None:
    record = decode_record(_without(("kinesis", "partitionKey")))
    assert record == KinesisRecord(sequence_number(5), "", LINE)


def test_repr_keeps_the_line_out() -> None:
    record = decode_record(kinesis_record("ads\tjohn@acme.com", 6))
    assert "john@acme.com" not in repr(record)
    assert sequence_number(6) in repr(record)
