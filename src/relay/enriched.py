"""One Snowplow enriched event: a line of 131 tab-separated fields.

Only the fields the relay needs are read, with as little splitting as will do: this
runs for every event of the stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from relay.malformed import Malformed

FIELD_COUNT = 131

# 0-based positions in the enriched event format.
_APP_ID = 0
_COLLECTOR_TSTAMP = 3
_EVENT = 5
_UNSTRUCT_EVENT = 58
_EVENT_VENDOR = 125
_EVENT_NAME = 126
# read_line splits the line after unstruct_event, and the rest from its end back to
# event_vendor: then event_vendor comes second, event_name third.
_TABS_AFTER_UNSTRUCT_EVENT = FIELD_COUNT - _UNSTRUCT_EVENT - 2
_SPLITS_TO_VENDOR = FIELD_COUNT - _EVENT_VENDOR

PII_EVENT_NAME = "pii_transformation"
SNOWPLOW_VENDOR = "com.snowplowanalytics.snowplow"
#: Any 1-*-* version of the PII transformation schema, as it stands quoted in the JSON.
_PII_SCHEMA_MARK = '"iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-'


class PiiEvent(NamedTuple):
    """The fields of a PII transformation event that its pairs need.

    A named tuple, not a dataclass: one is built per event on the relay's hot path,
    and a tuple builds several times faster than a frozen dataclass.
    """

    app_id: str
    collector_tstamp: datetime | None
    unstruct_event: str

    def __repr__(self) -> str:
        # unstruct_event holds the original values: personal data.
        return f"PiiEvent(app_id={self.app_id!r}, unstruct_event=<redacted>)"


def read_line(line: str) -> PiiEvent | Malformed | None:
    """The PII event on an enriched line, ``None`` when the line holds another kind of
    event, or ``Malformed.WRONG_FIELD_COUNT``.

    A PII event is recognised by event_vendor and event_name, as enrich writes them.
    Should a producer leave those out or get them wrong, an ``unstruct`` event whose
    unstruct_event names the PII transformation schema (any 1-*-*) counts too.
    """
    # A quarter cheaper than a full split (each field costs a list slot): split as far
    # as unstruct_event; of the rest, count the tabs and split off the last few fields.
    fields = line.split("\t", _UNSTRUCT_EVENT + 1)
    rest = fields.pop()  # every field after unstruct_event
    if len(fields) != _UNSTRUCT_EVENT + 1 or rest.count("\t") != _TABS_AFTER_UNSTRUCT_EVENT:
        return Malformed.WRONG_FIELD_COUNT
    last = rest.rsplit("\t", _SPLITS_TO_VENDOR)
    vendor, name = last[1], last[2]
    unstruct_event = fields[_UNSTRUCT_EVENT]
    if not (name == PII_EVENT_NAME and vendor == SNOWPLOW_VENDOR) and not (
        fields[_EVENT] in ("unstruct", PII_EVENT_NAME) and _PII_SCHEMA_MARK in unstruct_event
    ):
        return None
    return PiiEvent(fields[_APP_ID], utc_tstamp(fields[_COLLECTOR_TSTAMP]), unstruct_event)


def utc_tstamp(value: str) -> datetime | None:
    """A Snowplow timestamp (``YYYY-MM-DD HH:MM:SS.mmm``, UTC) as an aware datetime;
    ``None`` when it is empty or malformed: provenance is best effort, never a reason
    to drop an event's pairs.
    """
    if not value:
        return None
    try:
        # Snowplow writes UTC without an offset. Appending one is several times faster
        # than fromisoformat(...).replace(tzinfo=UTC).
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None  # a bare date drops the offset
