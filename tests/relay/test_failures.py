"""Lambda's on-failure message for a Kinesis batch, read into the range to replay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.failures import NotAFailureMessage, SkippedBatch, parse_failure_message
from relay.replay import read_messages
from tests.relay.factory import failure_message

STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/snowplow-pii"
START = "49601189658422359378836298521827638475320189012309704722"
END = "49601189658422359378836298522902373528957594348623495186"


def message(**info: Any) -> dict[str, Any]:
    document = failure_message(STREAM, "shardId-000000000001", START, END, 500)
    document["KinesisBatchInfo"].update(info)
    return document


def test_the_documented_message_names_the_shard_and_the_range() -> None:
    batch = parse_failure_message(json.dumps(message()))
    assert batch == SkippedBatch(
        STREAM, "shardId-000000000001", START, END, 500, "RetryAttemptsExhausted"
    )
    assert batch.region == "eu-west-1"
    assert batch.label == f"shardId-000000000001:{START}-{END}"
    assert parse_failure_message(message()) == batch


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not JSON"),
        ([], "not a JSON object"),
        ({"Records": []}, "no KinesisBatchInfo: not Lambda's report of a Kinesis batch"),
        (message(streamArn="arn:aws:sqs:eu-west-1:123456789012:q"), "streamArn is not a"),
        (message(shardId=""), "KinesisBatchInfo.shardId is missing"),
        (message(startSequenceNumber=12), "startSequenceNumber is not a sequence number"),
        (message(endSequenceNumber="12x"), "endSequenceNumber is not a sequence number"),
        (message(startSequenceNumber=END, endSequenceNumber=START), "is after endSequence"),
        (message(batchSize=0), "batchSize is not a positive whole number"),
        (message(batchSize=True), "batchSize is not a positive whole number"),
    ],
)
def test_anything_else_says_what_is_wrong(document: Any, problem: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(NotAFailureMessage) as caught:
        parse_failure_message(text)
    assert problem in str(caught.value)


def test_files_hold_messages_in_every_shape_people_save_them() -> None:
    one, two = message(), message(batchSize=7)
    shapes = [
        json.dumps([one, two]),
        json.dumps(one) + "\n" + json.dumps(two) + "\n",  # JSON lines
        json.dumps([json.dumps(one), json.dumps(two)]),  # --query 'Messages[].Body'
        json.dumps({"Messages": [{"MessageId": "m", "Body": json.dumps(m)} for m in (one, two)]}),
    ]
    for text in shapes:
        assert [b.batch_size for b in read_messages(text)] == [500, 7]
    assert [b.batch_size for b in read_messages(json.dumps(one))] == [500]
    with pytest.raises(NotAFailureMessage, match=r"^message 2: no KinesisBatchInfo"):
        read_messages(json.dumps([one, {"hello": "world"}]))
