"""How a ``Record`` is laid out as a DynamoDB item, and back.

The layout keeps the original Scala piinguin's table readable by both: the string hash key
``modifiedValue`` and the string ``originalValue``. Everything else is ours and optional:

    fieldName, jsonPath, schema, hashFunction, appId     S, written only when non-empty
    collectorTstamp                                       S, written only when set
    createdAt, updatedAt                                  S, always written by us

Timestamps are ISO-8601 strings in UTC with microseconds and an explicit offset
(``2017-07-14T03:39:39.123000+00:00``): readable in the console, exact on a round trip,
and ordered as strings. An item in the original's shape (key and ``originalValue`` only)
reads as a record with empty provenance and no timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.records import ItemFailed, Record

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

    Item = dict[str, AttributeValueTypeDef]

KEY = "modifiedValue"
ORIGINAL = "originalValue"
COLLECTOR_TSTAMP = "collectorTstamp"
CREATED_AT = "createdAt"
UPDATED_AT = "updatedAt"
#: Record field -> attribute, for the optional provenance strings.
PROVENANCE = {
    "field_name": "fieldName",
    "json_path": "jsonPath",
    "schema": "schema",
    "hash_function": "hashFunction",
    "app_id": "appId",
}

MALFORMED = ItemFailed("the stored item is malformed")


def key_item(key: str) -> Item:
    return {KEY: {"S": key}}


def key_of(item: Item) -> str:
    return item[KEY]["S"]


def encode(
    record: Record, *, created_at: AttributeValueTypeDef, updated_at: AttributeValueTypeDef
) -> Item:
    """The item for ``record``; the record's own timestamps are ignored. A stored
    ``created_at`` is passed on as it was stored, never re-parsed."""
    item: Item = {
        KEY: {"S": record.modified_value},
        ORIGINAL: {"S": record.original_value},
        CREATED_AT: created_at,
        UPDATED_AT: updated_at,
    }
    for field, attribute in PROVENANCE.items():
        value: str = getattr(record, field)
        if value:
            item[attribute] = {"S": value}
    if record.collector_tstamp is not None:
        item[COLLECTOR_TSTAMP] = encode_time(record.collector_tstamp)
    return item


def decode(item: Item) -> Record | ItemFailed:
    """The record stored as ``item``, or ``MALFORMED`` if it is not in our layout.

    Attributes we don't know are ignored: other tools may add their own.
    """
    try:
        field_name, json_path, schema, hash_function, app_id = (
            item[attribute]["S"] if attribute in item else "" for attribute in PROVENANCE.values()
        )
        return Record(
            item[KEY]["S"],
            item[ORIGINAL]["S"],
            field_name,
            json_path,
            schema,
            hash_function,
            app_id,
            _decode_time(item.get(COLLECTOR_TSTAMP)),
            _decode_time(item.get(CREATED_AT)),
            _decode_time(item.get(UPDATED_AT)),
        )
    except (KeyError, ValueError):
        # Neither the item nor the exception (which may quote it) goes any further.
        return MALFORMED


def encode_time(moment: datetime) -> AttributeValueTypeDef:
    """A naive datetime is taken to be UTC, as Snowplow's timestamps are."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {"S": moment.astimezone(UTC).isoformat(timespec="microseconds")}


def _decode_time(value: AttributeValueTypeDef | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value["S"])
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
