"""The audit table's keys, shared by both of its layouts (``audit_items``, the sharded one
this version writes, and ``audit_legacy``, the first one, which it still reads).

The table has a string hash key ``pk`` and a string range key ``sk``. An event's items
share the sort key ``<time>#<event_id>``, the time in ISO-8601 UTC with microseconds (as
``items`` writes times), so sort keys order as ``(time, event_id)`` and a time range is a
range of sort keys. A partition key longer than DynamoDB's 2,048 bytes becomes
``<KIND>SHA256#<hex digest>``, which cannot clash with a ``<KIND>#`` partition.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from storage.dynamodb.items import encode_time
from storage.records import MAX_KEY_BYTES

PK, SK = "pk", "sk"
#: The partition of the day index: a sort key per day that has events.
DAYS = "DAYS"


def iso(moment: datetime) -> str:
    return encode_time(moment)["S"]


def partition(kind: str, value: str) -> str:
    """The ``pk`` of ``value``'s partition of ``kind`` (``KEY``, ``PRINCIPAL``, ``DAY``...)."""
    pk = f"{kind}#{value}"
    if len(pk.encode()) <= MAX_KEY_BYTES:
        return pk
    return f"{kind}SHA256#{hashlib.sha256(value.encode()).hexdigest()}"


def day_of(moment: datetime) -> str:
    return iso(moment)[:10]


def last_day_before(until: datetime) -> str:
    """The day of the last microsecond before ``until`` (which is exclusive)."""
    return day_of(until - timedelta(microseconds=1))


def sort_key(time: datetime, event_id: str) -> str:
    return f"{iso(time)}#{event_id}"


def split_sort_key(sk: str) -> tuple[str, str]:
    """``(time, event_id)`` of a sort key: the time holds no ``#``."""
    time, _, event_id = sk.partition("#")
    return time, event_id
