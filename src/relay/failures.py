"""What Lambda reports when it gives up on a Kinesis batch: the on-failure destination's
message, read into a ``SkippedBatch``.

When an event source mapping exhausts its retries (or a record grows too old), Lambda
sends its on-failure destination (the template's SQS queue) a JSON document naming the
batch, not carrying it::

    {"requestContext": {"condition": "RetryAttemptsExhausted", ...},
     "responseContext": {...}, "version": "1.0", "timestamp": "...",
     "KinesisBatchInfo": {"shardId": "shardId-000000000001",
                          "startSequenceNumber": "4960...", "endSequenceNumber": "4960...",
                          "approximateArrivalOfFirstRecord": "...",
                          "approximateArrivalOfLastRecord": "...",
                          "batchSize": 500, "streamArn": "arn:aws:kinesis:...:stream/..."}}

The records are still in the stream while it retains them: ``piinguin-relay replay``
reads that range again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_STREAM_ARN = re.compile(r"arn:aws[a-z-]*:kinesis:(?P<region>[a-z0-9-]+):[0-9]{12}:stream/.+")


class NotAFailureMessage(ValueError):
    """The message is not Lambda's report of a skipped Kinesis batch; says why."""


@dataclass(frozen=True, slots=True)
class SkippedBatch:
    """A batch Lambda gave up on: the shard and the inclusive sequence-number range it
    spanned, and how many records it held (with a ParallelizationFactor above 1 the
    range also spans other batches' records, which a replay writes again, harmlessly)."""

    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int
    condition: str = ""

    @property
    def region(self) -> str:
        match = _STREAM_ARN.fullmatch(self.stream_arn)
        assert match is not None  # checked in parse_failure_message
        return match["region"]

    @property
    def label(self) -> str:
        """How logs and messages name it."""
        return f"{self.shard_id}:{self.start}-{self.end}"


def parse_failure_message(message: str | Mapping[str, Any]) -> SkippedBatch:
    """Read one on-failure message (its JSON text, or the decoded document);
    ``NotAFailureMessage`` says what is missing or wrong."""
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            raise NotAFailureMessage("not JSON") from None
    if not isinstance(message, Mapping):
        raise NotAFailureMessage("not a JSON object")
    info = message.get("KinesisBatchInfo")
    if not isinstance(info, Mapping):
        raise NotAFailureMessage("no KinesisBatchInfo: not Lambda's report of a Kinesis batch")
    stream_arn, shard_id = info.get("streamArn"), info.get("shardId")
    batch_size = info.get("batchSize")
    if not (isinstance(stream_arn, str) and _STREAM_ARN.fullmatch(stream_arn)):
        raise NotAFailureMessage("KinesisBatchInfo.streamArn is not a Kinesis stream ARN")
    if not (isinstance(shard_id, str) and shard_id):
        raise NotAFailureMessage("KinesisBatchInfo.shardId is missing")
    start, end = _sequence(info, "startSequenceNumber"), _sequence(info, "endSequenceNumber")
    if int(start) > int(end):
        raise NotAFailureMessage("KinesisBatchInfo.startSequenceNumber is after endSequenceNumber")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise NotAFailureMessage("KinesisBatchInfo.batchSize is not a positive whole number")
    context = message.get("requestContext")
    condition = context.get("condition") if isinstance(context, Mapping) else None
    condition = condition if isinstance(condition, str) else ""
    return SkippedBatch(stream_arn, shard_id, start, end, batch_size, condition)


def _sequence(info: Mapping[str, Any], name: str) -> str:
    number = info.get(name)
    if not (isinstance(number, str) and number.isascii() and number.isdigit()):
        raise NotAFailureMessage(f"KinesisBatchInfo.{name} is not a sequence number")
    return number
