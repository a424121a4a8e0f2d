"""One Lambda Kinesis record, all the way to the pairs it carries or why it carries none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.enriched import PiiEvent, read_line
from relay.extract import Pair, extract_pairs
from relay.kinesis import decode_record
from relay.malformed import Malformed


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """What one Kinesis record holds, exactly one of:

    - ``pairs``: the pairs of a PII event, never empty;
    - ``skipped``: another kind of event, which the relay passes over;
    - ``malformed``: why the record could not be read.

    ``sequence_number`` is Lambda's, as given; ``""`` when the record had none.
    """

    sequence_number: str
    pairs: tuple[Pair, ...] = ()
    skipped: bool = False
    malformed: Malformed | None = None

    def __post_init__(self) -> None:
        if bool(self.pairs) + self.skipped + (self.malformed is not None) != 1:
            raise ValueError("a ParsedRecord holds exactly one of pairs, skipped, malformed")


def parse_line(line: str) -> tuple[Pair, ...] | Malformed | None:
    """The pairs on one enriched line, why it is malformed, or ``None`` for an event
    other than a PII event."""
    event = read_line(line)
    if isinstance(event, PiiEvent):
        return extract_pairs(event)
    return event


def parse_record(record: object) -> ParsedRecord:
    """Parse one entry of a Lambda event's ``Records``; never raises for a bad record."""
    decoded = decode_record(record)
    if decoded.failure is not None:
        return ParsedRecord(decoded.sequence_number, malformed=decoded.failure)
    return parse_identified_line(decoded.sequence_number, decoded.line)


def parse_identified_line(identifier: str, line: str) -> ParsedRecord:
    """Parse one enriched line into a ``ParsedRecord`` known as ``identifier``: a Kinesis
    sequence number, or where ``piinguin-relay`` read the line."""
    parsed = parse_line(line)
    if parsed is None:
        return ParsedRecord(identifier, skipped=True)
    if isinstance(parsed, Malformed):
        return ParsedRecord(identifier, malformed=parsed)
    return ParsedRecord(identifier, pairs=parsed)


def parse_event(event: Mapping[str, Any]) -> list[ParsedRecord]:
    """Parse every record of a Lambda Kinesis event, in Kinesis order.

    An event without ``Records`` is not a Kinesis event: the ``KeyError`` is left to
    fail the invocation, which is a misconfiguration, not a bad record.
    """
    return [parse_record(record) for record in event["Records"]]
