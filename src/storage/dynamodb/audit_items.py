"""How an audit event is laid out in the DynamoDB audit table, and back.

The table has a string hash key ``pk`` and a string range key ``sk``. One event becomes
several items that share one sort key, ``<time>#<event_id>``: the time in ISO-8601 UTC with
microseconds (as ``items`` writes times), so sort keys order as ``(time, event_id)``
and a time range is a range of sort keys. Each question the store answers is one partition:

    pk                          the item holds
    PRINCIPAL#<principal>       the whole event: a principal's history
    KEY#<modified_value>        the event narrowed to that key's outcomes: a key's history
    DAY#<YYYY-MM-DD>            the whole event: a time range alone reads its days in turn
    DAYS   (sk <YYYY-MM-DD>)    no event: the index of the DAY partitions that exist

A partition key longer than DynamoDB's 2,048 bytes (a key near the limit, with its prefix)
becomes ``KEYSHA256#<hex digest>`` (``PRINCIPALSHA256#`` likewise), which cannot clash with
a ``KEY#`` partition. Attributes, besides the keys: eventId, time, principal, operation,
method, purpose, requestId, peer (S); code, lawfulBasis (N); legacy (BOOL); keys, a list of
``{modifiedValue: S, code: N}``. No original value is ever among them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.audit import AuditEvent, KeyOutcome
from storage.dynamodb.items import encode_time
from storage.records import MAX_KEY_BYTES

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

    from storage.dynamodb.items import Item

PK, SK = "pk", "sk"
DAYS = "DAYS"


def iso(moment: datetime) -> str:
    return encode_time(moment)["S"]


def partition(kind: str, value: str) -> str:
    """The ``pk`` of ``value``'s partition of ``kind`` (``KEY``, ``PRINCIPAL``, ``DAY``)."""
    pk = f"{kind}#{value}"
    if len(pk.encode()) <= MAX_KEY_BYTES:
        return pk
    return f"{kind}SHA256#{hashlib.sha256(value.encode()).hexdigest()}"


def day_of(moment: datetime) -> str:
    return iso(moment)[:10]


def day_partition(day: str) -> str:
    return partition("DAY", day)


def day_index_item(day: str) -> Item:
    return {PK: {"S": DAYS}, SK: {"S": day}}


def last_day_before(until: datetime) -> str:
    """The day of the last microsecond before ``until`` (which is exclusive)."""
    return day_of(until - timedelta(microseconds=1))


def event_items(event: AuditEvent) -> list[Item]:
    """The event's items: its principal's and its day's, and one per distinct key."""
    sk: AttributeValueTypeDef = {"S": f"{iso(event.time)}#{event.event_id}"}
    whole = _attributes(event, event.keys)
    items: list[Item] = [
        {PK: {"S": partition("PRINCIPAL", event.principal)}, SK: sk, **whole},
        {PK: {"S": day_partition(day_of(event.time))}, SK: sk, **whole},
    ]
    by_key: defaultdict[str, list[KeyOutcome]] = defaultdict(list)
    for outcome in event.keys:
        by_key[outcome.modified_value].append(outcome)
    items.extend(
        {PK: {"S": partition("KEY", key)}, SK: sk, **_attributes(event, outcomes)}
        for key, outcomes in by_key.items()
    )
    return items


def _attributes(event: AuditEvent, keys: Sequence[KeyOutcome]) -> Item:
    return {
        "eventId": {"S": event.event_id},
        "time": {"S": iso(event.time)},
        "principal": {"S": event.principal},
        "operation": {"S": event.operation},
        "method": {"S": event.method},
        "code": {"N": str(event.code)},
        "keys": {
            "L": [
                {"M": {"modifiedValue": {"S": k.modified_value}, "code": {"N": str(k.code)}}}
                for k in keys
            ]
        },
        "lawfulBasis": {"N": str(event.lawful_basis)},
        "purpose": {"S": event.purpose},
        "requestId": {"S": event.request_id},
        "peer": {"S": event.peer},
        "legacy": {"BOOL": event.legacy},
    }


def decode(item: Item) -> AuditEvent:
    """The event stored as ``item``; ``KeyError`` or ``ValueError`` if it is not one."""
    keys: list[dict[str, Any]] = list(item["keys"]["L"])
    return AuditEvent(
        event_id=item["eventId"]["S"],
        time=datetime.fromisoformat(item["time"]["S"]).astimezone(UTC),
        principal=item["principal"]["S"],
        operation=item["operation"]["S"],
        method=item["method"]["S"],
        code=int(item["code"]["N"]),
        keys=tuple(
            KeyOutcome(k["M"]["modifiedValue"]["S"], int(k["M"]["code"]["N"])) for k in keys
        ),
        lawful_basis=int(item["lawfulBasis"]["N"]),
        purpose=item["purpose"]["S"],
        request_id=item["requestId"]["S"],
        peer=item["peer"]["S"],
        legacy=bool(item["legacy"]["BOOL"]),
    )


def page_token(item: Item) -> str:
    """An opaque token for the page after ``item``: its key, as DynamoDB's
    ``ExclusiveStartKey`` takes it, in URL-safe base64 of JSON."""
    key = {PK: {"S": item[PK]["S"]}, SK: {"S": item[SK]["S"]}}
    text = json.dumps(key, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def start_key(token: str) -> tuple[str, str]:
    """The ``(pk, sk)`` a token of ``page_token`` holds; ``ValueError`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise ValueError("page_token was not issued by this store") from exc
    if not (
        isinstance(key, dict)
        and key.keys() == {PK, SK}
        and all(isinstance(v, dict) and isinstance(v.get("S"), str) for v in key.values())
    ):
        raise ValueError("page_token was not issued by this store")
    return key[PK]["S"], key[SK]["S"]
