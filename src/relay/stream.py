"""Reading a sequence-number range of one Kinesis shard again, page by page, with an
aioboto3 client: what ``piinguin-relay replay`` writes.

Not part of the Lambda (which Lambda's poller feeds), so aioboto3 is fine here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NamedTuple

from relay.failures import SkippedBatch
from relay.malformed import Malformed
from relay.parse import ParsedRecord, parse_identified_line

if TYPE_CHECKING:
    from types_aiobotocore_kinesis.client import KinesisClient
    from types_aiobotocore_kinesis.type_defs import RecordTypeDef

#: The most records one GetRecords returns, and as many as Lambda's largest batch.
PAGE_RECORDS = 10_000


class Page(NamedTuple):
    """The records of one GetRecords inside the range (maybe none), and whether the
    range's last record has been read."""

    records: list[ParsedRecord]
    at_end: bool


async def read_range(kinesis: KinesisClient, batch: SkippedBatch) -> AsyncIterator[Page]:
    """Every record of ``batch``'s shard from its first sequence number to its last,
    parsed, one page per GetRecords. The last page says ``at_end`` when the range's
    end was reached; the pages stop without it when the shard has nothing more (its
    end was never written there, or is gone), so the caller can tell.

    Kinesis errors (``botocore.exceptions.ClientError``) are left to the caller.
    """
    end = int(batch.end)
    answer = await kinesis.get_shard_iterator(
        StreamARN=batch.stream_arn,
        ShardId=batch.shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=batch.start,
    )
    iterator: str | None = answer["ShardIterator"]
    while iterator:
        got = await kinesis.get_records(
            ShardIterator=iterator, Limit=PAGE_RECORDS, StreamARN=batch.stream_arn
        )
        inside = [r for r in got["Records"] if int(r["SequenceNumber"]) <= end]
        at_end = len(inside) < len(got["Records"]) or (
            bool(inside) and int(inside[-1]["SequenceNumber"]) == end
        )
        if inside or at_end:
            yield Page([_parse(record) for record in inside], at_end)
        if at_end:
            return
        if not got["Records"] and got.get("MillisBehindLatest", 0) == 0:
            return  # at the tip of the shard, and the range's end not seen
        iterator = got.get("NextShardIterator")  # none once a closed shard is read out


def _parse(record: RecordTypeDef) -> ParsedRecord:
    """One record, known by its sequence number, as the Lambda would have parsed it."""
    sequence_number = record["SequenceNumber"]
    try:
        line = bytes(record["Data"]).decode("utf-8")
    except UnicodeDecodeError:
        return ParsedRecord(sequence_number, malformed=Malformed.NOT_UTF8)
    return parse_identified_line(sequence_number, line.removesuffix("\n"))
