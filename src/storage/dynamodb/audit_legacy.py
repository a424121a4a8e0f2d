"""The audit table's first layout, which servers before the sharded one wrote: read by
this version as it is, so that nothing needs migrating.

It wrote every event whole into ``PRINCIPAL#<principal>`` and ``DAY#<YYYY-MM-DD>`` and,
narrowed to one key's outcomes, into ``KEY#<modified_value>``, all under the sort key
``<time>#<event_id>``, and indexed each day as ``DAYS`` / ``<YYYY-MM-DD>``. Its items carry
``eventId``, ``time`` and ``keys`` (a list of ``{modifiedValue, code}`` maps), which the
sharded layout's items do not. ``event_items`` writes it, for the tests and the benchmark
that compare the two layouts: the server never does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.audit import AuditEvent, KeyOutcome
from storage.dynamodb.audit_keys import DAYS, PK, SK, day_of, iso, partition

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

    from storage.dynamodb.items import Item


def is_legacy(item: Item) -> bool:
    return "eventId" in item


def day_partition(day: str) -> str:
    return partition("DAY", day)


def principal_partition(principal: str) -> str:
    return partition("PRINCIPAL", principal)


def event_items(event: AuditEvent) -> list[Item]:
    """The event's items as the first layout wrote them (its day index item apart)."""
    sk: AttributeValueTypeDef = {"S": f"{iso(event.time)}#{event.event_id}"}
    whole = _attributes(event, event.keys)
    items: list[Item] = [
        {PK: {"S": principal_partition(event.principal)}, SK: sk, **whole},
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


def day_index_item(day: str) -> Item:
    return {PK: {"S": DAYS}, SK: {"S": day}}


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
