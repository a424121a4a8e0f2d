"""The relay: an AWS Lambda that turns Kinesis batches of Snowplow PII events into bulk
writes to the Piinguin server.

Exported here is its pure, I/O-free half. The rest: ``relay.handler`` (the Lambda entry
point, with ``metrics``), ``relay.runner`` (``piinguin-relay``, the same from files or
stdin), ``relay.replay`` (``piinguin-relay replay``: ranges Lambda gave up on, read again
through ``failures`` and ``stream``), and what they share: ``config`` (with ``secrets``),
``connection``, ``writer`` and ``pipeline``.
"""

from relay.batching import WritePlan, batch_item_failures, plan_writes
from relay.enriched import PiiEvent, read_line
from relay.extract import Pair, extract_pairs
from relay.kinesis import KinesisRecord, decode_record
from relay.malformed import Malformed
from relay.parse import ParsedRecord, parse_event, parse_line, parse_record
from relay.summary import Summary

__all__ = [
    "KinesisRecord",
    "Malformed",
    "Pair",
    "ParsedRecord",
    "PiiEvent",
    "Summary",
    "WritePlan",
    "batch_item_failures",
    "decode_record",
    "extract_pairs",
    "parse_event",
    "parse_line",
    "parse_record",
    "plan_writes",
    "read_line",
]
