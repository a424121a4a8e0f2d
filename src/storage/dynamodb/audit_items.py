"""How an audit event is laid out in the DynamoDB audit table, and back: the sharded layout.

Each event is stored once, whole, in one of its day's shards; the principal's view holds a
small pointer to it and each key's view the event narrowed to that key. All of an
event's items share the sort key ``<time>#<event_id>`` (``audit_keys``):

    pk                              the item holds
    DAY#<YYYY-MM-DD>#<NN>           the whole event: its keys zlib-compressed (keyOutcomes)
    BY#<principal>#<NN>             a pointer: the pk of the event's DAY item (home)
    KEY#<modified_value>            the event narrowed to that key's outcomes (codes)
    PART#<event_id>#<n>             the rest of keyOutcomes, for an event too large for one item
    DAYS   (sk <YYYY-MM-DD>#<N>)    no event: a day that has events, in N shards

``NN`` is the event's shard, from its id: writes spread evenly over ``SHARDS`` partitions a
day and a principal, where one partition takes at most 1,000 write units a second. A single
read costs three items under 1 KB (home, pointer, key); a bulk read one home (its keys
compress to some 36 bytes each), one pointer and one item per distinct key. An event
without a principal (an unauthenticated call) has no pointer. Attributes besides the
keys: principal, operation, method, purpose, requestId, peer (S); code, lawfulBasis, when
not 1, calls and, when a read stated one, restrictionGround (N); legacy (BOOL). The time
and the event id are the sort key's. No original value is ever among them.

The first layout (``audit_legacy``) is read as well: its items sit in the same KEY#
partitions and in unsharded ``DAY#<date>`` and ``PRINCIPAL#<principal>`` ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.dynamodb import audit_legacy
from storage.dynamodb.audit_keys import (
    DAYS,
    PK,
    SK,
    day_of,
    iso,
    partition,
    sort_key,
    split_sort_key,
)
from storage.dynamodb.sizes import MAX_ITEM_BYTES, item_size

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

    from storage.dynamodb.items import Item

#: Partitions a day's events, and a principal's pointers, are spread over.
SHARDS = 16
#: The most compressed key bytes one item holds. moto checks an item's size with a
#: binary's base64 text (a third more than DynamoDB counts): this fits under both.
PART_BYTES = 256 * 1024
HOME = "home"
KEY_OUTCOMES = "keyOutcomes"
PARTS = "parts"
CODES = "codes"
GROUND = "restrictionGround"


def shard_of(event_id: str) -> int:
    return zlib.crc32(event_id.encode()) % SHARDS


def day_shard(day: str, shard: int) -> str:
    return partition("DAY", f"{day}#{shard:02}")


def principal_shard(principal: str, shard: int) -> str:
    return partition("BY", f"{principal}#{shard:02}")


def day_index_item(day: str) -> Item:
    return {PK: {"S": DAYS}, SK: {"S": f"{day}#{SHARDS}"}}


def day_partitions(index_sort_key: str) -> list[str]:
    """The partitions of a day that a ``DAYS`` item names: its shards, or the first
    layout's single partition."""
    day, _, shards = index_sort_key.partition("#")
    if not shards:
        return [audit_legacy.day_partition(day)]
    return [day_shard(day, shard) for shard in range(int(shards))]


def principal_partitions(principal: str) -> list[str]:
    """Every partition that may hold a principal's events: its shards, then the first
    layout's partition."""
    shards = [principal_shard(principal, shard) for shard in range(SHARDS)]
    return [*shards, audit_legacy.principal_partition(principal)]


def event_items(event: AuditEvent) -> tuple[list[Item], list[Item]]:
    """The event's items: first the parts of a large event's keys, to be written before
    the rest, so that no home is ever without them; then its home, its principal's
    pointer and one item per distinct key."""
    sk: AttributeValueTypeDef = {"S": sort_key(event.time, event.event_id)}
    shard = shard_of(event.event_id)
    home_pk = day_shard(day_of(event.time), shard)
    header = _header(event)
    home: Item = {PK: {"S": home_pk}, SK: sk, **header}
    parts = _keys_of_home(event, home)
    items = [home]
    if event.principal:
        pointer_pk = principal_shard(event.principal, shard)
        items.append({PK: {"S": pointer_pk}, SK: sk, HOME: {"S": home_pk}})
    by_key: defaultdict[str, list[AttributeValueTypeDef]] = defaultdict(list)
    for outcome in event.keys:
        by_key[outcome.modified_value].append({"N": str(outcome.code)})
    items.extend(
        {PK: {"S": partition("KEY", key)}, SK: sk, **header, CODES: {"L": codes}}
        for key, codes in by_key.items()
    )
    return parts, items


def _keys_of_home(event: AuditEvent, home: Item) -> list[Item]:
    """Put the event's compressed keys into ``home``, as much as fits; answer the part
    items that hold the rest."""
    pairs = [[k.modified_value, k.code] for k in event.keys]
    blob = zlib.compress(json.dumps(pairs, separators=(",", ":")).encode())
    # The names of keyOutcomes and parts, and parts' value, fit in the margin.
    room = max(0, min(PART_BYTES, MAX_ITEM_BYTES - item_size(home) - 64))
    chunks = [blob[:room]] + [
        blob[start : start + PART_BYTES] for start in range(room, len(blob), PART_BYTES)
    ]
    home[KEY_OUTCOMES] = {"B": chunks[0]}
    if len(chunks) > 1:
        home[PARTS] = {"N": str(len(chunks))}
    return [
        {PK: {"S": part_partition(event.event_id, n)}, SK: home[SK], KEY_OUTCOMES: {"B": chunk}}
        for n, chunk in enumerate(chunks[1:], start=1)
    ]


def part_partition(event_id: str, n: int) -> str:
    return partition("PART", f"{event_id}#{n}")


def _header(event: AuditEvent) -> Item:
    header: Item = {
        "principal": {"S": event.principal},
        "operation": {"S": event.operation},
        "method": {"S": event.method},
        "code": {"N": str(event.code)},
        "lawfulBasis": {"N": str(event.lawful_basis)},
        "purpose": {"S": event.purpose},
        "requestId": {"S": event.request_id},
        "peer": {"S": event.peer},
        "legacy": {"BOOL": event.legacy},
    }
    if event.calls != 1:
        header["calls"] = {"N": str(event.calls)}
    # Only when stated, so the items of every other event keep their size.
    if event.restriction_ground:
        header[GROUND] = {"N": str(event.restriction_ground)}
    return header


def is_pointer(item: Item) -> bool:
    return HOME in item


def home_of(pointer: Item) -> tuple[str, str]:
    return pointer[HOME]["S"], pointer[SK]["S"]


def parts_of(home: Item) -> list[tuple[str, str]]:
    """The keys of the part items that hold the rest of a home's keys, in order."""
    if PARTS not in home:
        return []
    _, event_id = split_sort_key(home[SK]["S"])
    count = int(home[PARTS]["N"])
    return [(part_partition(event_id, n), home[SK]["S"]) for n in range(1, count)]


def decode(item: Item, *, key: str = "", parts: tuple[Item, ...] = ()) -> AuditEvent:
    """The event an item holds: a home (with its ``parts``' items, in order), a key's item
    (``key`` is the key), or an item of the first layout. ``KeyError`` or ``ValueError``
    (``zlib.error`` included) if it is none of these."""
    if audit_legacy.is_legacy(item):
        return audit_legacy.decode(item)
    time, event_id = split_sort_key(item[SK]["S"])
    if CODES in item:
        keys = tuple(KeyOutcome(key, int(code["N"])) for code in item[CODES]["L"])
    else:
        blob = b"".join(bytes(chunk[KEY_OUTCOMES]["B"]) for chunk in (item, *parts))
        pairs = json.loads(zlib.decompress(blob))
        keys = tuple(KeyOutcome(str(k), int(c)) for k, c in pairs)
    return AuditEvent(
        event_id=event_id,
        time=datetime.fromisoformat(time).astimezone(UTC),
        principal=item["principal"]["S"],
        operation=item["operation"]["S"],
        method=item["method"]["S"],
        code=int(item["code"]["N"]),
        keys=keys,
        lawful_basis=int(item["lawfulBasis"]["N"]),
        purpose=item["purpose"]["S"],
        request_id=item["requestId"]["S"],
        peer=item["peer"]["S"],
        legacy=bool(item["legacy"]["BOOL"]),
        calls=int(item["calls"]["N"]) if "calls" in item else 1,
        restriction_ground=int(item[GROUND]["N"]) if GROUND in item else 0,
    )


def _query_digest(query: AuditQuery) -> str:
    """What a page token binds it to: the query, its page size apart."""
    bound = json.dumps(
        [
            query.modified_value,
            query.principal,
            iso(query.since) if query.since is not None else None,
            iso(query.until) if query.until is not None else None,
        ]
    )
    return hashlib.sha256(bound.encode()).hexdigest()[:32]


def page_token(query: AuditQuery, last: str) -> str:
    """An opaque token for the page of ``query`` after the sort key ``last``, in URL-safe
    base64 of JSON."""
    text = json.dumps({"q": _query_digest(query), "after": last}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def resume_after(query: AuditQuery) -> str | None:
    """The sort key after which ``query``'s page token resumes (``None`` without one);
    ``ValueError`` for a token this store did not issue for this very query."""
    if not query.page_token:
        return None
    token = query.page_token
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise ValueError(FOREIGN_TOKEN) from exc
    if not (
        isinstance(fields, dict)
        and fields.keys() == {"q", "after"}
        and fields["q"] == _query_digest(query)
        and isinstance(fields["after"], str)
    ):
        raise ValueError(FOREIGN_TOKEN)
    after: str = fields["after"]
    return after


FOREIGN_TOKEN = "page_token was not issued for this query"  # noqa: S105 - a message
