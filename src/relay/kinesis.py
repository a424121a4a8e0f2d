"""The relay's edge: each record of a Lambda Kinesis event, decoded once.

Decoding never raises for a bad record: a record that cannot be decoded becomes a
``KinesisRecord`` with a ``failure`` reason, so one bad record never fails a whole batch.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field

from relay.malformed import Malformed


@dataclass(frozen=True, slots=True)
class KinesisRecord:
    """One Kinesis record: where it sits in the shard, and its payload as text.

    Either ``failure`` is ``None`` and ``line`` is the decoded payload (one enriched event,
    its trailing newline dropped), or ``failure`` says why there is no line and ``line``
    is ``""``. ``sequence_number`` is kept as Lambda gave it, the string Lambda expects
    back in ``batchItemFailures``; it is ``""`` when the record had none, or one that is
    not a string of digits.
    """

    sequence_number: str
    partition_key: str
    line: str = field(default="", repr=False)  # personal data: kept out of reprs
    failure: Malformed | None = None

    @property
    def sequence(self) -> int:
        """The sequence number as an integer, for ordering; -1 when it is missing."""
        return int(self.sequence_number) if self.sequence_number else -1


def decode_record(record: object) -> KinesisRecord:
    """Decode one entry of a Lambda event's ``Records``: base64, then UTF-8."""
    kinesis = record.get("kinesis") if isinstance(record, dict) else None
    if not isinstance(kinesis, dict):
        return KinesisRecord("", "", failure=Malformed.MISSING_FIELDS)
    sequence_number = _sequence_number(kinesis.get("sequenceNumber"))
    partition_key = kinesis.get("partitionKey")
    if not isinstance(partition_key, str):
        partition_key = ""
    data = kinesis.get("data")
    if not sequence_number or not isinstance(data, str):
        return KinesisRecord(sequence_number, partition_key, failure=Malformed.MISSING_FIELDS)
    try:
        # strict_mode rejects what b64decode would silently skip (stray characters,
        # misplaced padding), and is faster than b64decode(validate=True)'s regex.
        payload = binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return KinesisRecord(sequence_number, partition_key, failure=Malformed.BAD_BASE64)
    try:
        line = payload.decode("utf-8")
    except UnicodeDecodeError:
        return KinesisRecord(sequence_number, partition_key, failure=Malformed.NOT_UTF8)
    if line.endswith("\n"):
        line = line[:-1]
    return KinesisRecord(sequence_number, partition_key, line)


def _sequence_number(value: object) -> str:
    # isdigit() alone accepts other scripts' digits, which int() may not parse.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return ""
