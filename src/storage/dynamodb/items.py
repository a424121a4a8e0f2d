"""How a ``Record`` is laid out as a DynamoDB item, and back.

The layout keeps the original Scala piinguin's table readable by both: the string hash key
``modifiedValue`` and the string ``originalValue``. Everything else is ours and optional:

    fieldName, jsonPath, schema, hashFunction, appId     S, written only when non-empty
    collectorTstamp                                       S, written only when set
    createdAt, updatedAt                                  S, always written by us
    expiresAt                                             N, when the record expires, in
                                                          epoch seconds (the table's TTL
                                                          attribute); only with a retention
    restricted                                            BOOL, true while processing is
                                                          restricted; absent otherwise

Timestamps are ISO-8601 strings in UTC with microseconds and an explicit offset
(``2017-07-14T03:39:39.123000+00:00``): readable in the console, exact on a round trip,
and ordered as strings. An item in the original's shape (key and ``originalValue`` only)
reads as a record with empty provenance and no timestamps.

A sealed record (encryption at rest) has no ``originalValue``; instead:

    sealed        B   the ciphertext XOR its pad (``keys``: the pad is in the key table)
    keyId         S   the key table item that holds the pad
    keyVersion    S   the keyring's version of the data key (``local:<id>``, ``kms:<ARN>``)
    dataKey       B   the data key, wrapped by the keyring
    blindIndex    S   the blind index, hex (the ``blindIndex`` global secondary index)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.records import ItemFailed, Record, Sealed, SealedRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

    Item = dict[str, AttributeValueTypeDef]

KEY = "modifiedValue"
ORIGINAL = "originalValue"
SEALED = "sealed"
KEY_ID = "keyId"
KEY_VERSION = "keyVersion"
DATA_KEY = "dataKey"
BLIND_INDEX = "blindIndex"
COLLECTOR_TSTAMP = "collectorTstamp"
CREATED_AT = "createdAt"
UPDATED_AT = "updatedAt"
#: The table's TTL attribute; in clear on sealed items too, as DynamoDB needs it.
EXPIRES_AT = "expiresAt"
RESTRICTED = "restricted"
#: Record field -> attribute, for the optional provenance strings.
PROVENANCE = {
    "field_name": "fieldName",
    "json_path": "jsonPath",
    "schema": "schema",
    "hash_function": "hashFunction",
    "app_id": "appId",
}

MALFORMED = ItemFailed("the stored item is malformed")
MISMATCHED = ItemFailed("its key material does not fit its ciphertext", damaged=True)
NO_PAD = ItemFailed(
    "its key material is not in the key table: erased, or never written", damaged=True
)


def key_item(key: str) -> Item:
    return {KEY: {"S": key}}


def key_of(item: Item) -> str:
    return item[KEY]["S"]


def encode(
    record: Record,
    *,
    created_at: AttributeValueTypeDef,
    updated_at: AttributeValueTypeDef,
    expires_at: datetime | None = None,
    restricted: bool = False,
) -> Item:
    """The item for ``record``; the record's own timestamps and restriction are ignored.
    A stored ``created_at`` is passed on as it was stored, never re-parsed."""
    item: Item = {
        KEY: {"S": record.modified_value},
        ORIGINAL: {"S": record.original_value},
        CREATED_AT: created_at,
        UPDATED_AT: updated_at,
    }
    return _with_provenance(item, record, expires_at, restricted)


def encode_sealed(
    record: SealedRecord,
    share: bytes,
    key_id: str,
    *,
    created_at: AttributeValueTypeDef,
    updated_at: AttributeValueTypeDef,
    expires_at: datetime | None = None,
    restricted: bool = False,
) -> Item:
    """The item for a sealed ``record`` whose ciphertext's share is ``share`` and whose
    pad is stored under ``key_id``."""
    sealed = record.sealed
    item: Item = {
        KEY: {"S": record.modified_value},
        SEALED: {"B": share},
        KEY_ID: {"S": key_id},
        KEY_VERSION: {"S": sealed.key_version},
        DATA_KEY: {"B": sealed.data_key},
        CREATED_AT: created_at,
        UPDATED_AT: updated_at,
    }
    if sealed.blind_index:
        item[BLIND_INDEX] = {"S": sealed.blind_index}
    return _with_provenance(item, record, expires_at, restricted)


def _with_provenance(
    item: Item, record: Record | SealedRecord, expires_at: datetime | None, restricted: bool
) -> Item:
    """``item`` with what plain and sealed records share: provenance, times, expiry,
    restriction."""
    for field, attribute in PROVENANCE.items():
        value: str = getattr(record, field)
        if value:
            item[attribute] = {"S": value}
    if record.collector_tstamp is not None:
        item[COLLECTOR_TSTAMP] = encode_time(record.collector_tstamp)
    if expires_at is not None:
        item[EXPIRES_AT] = encode_expiry(expires_at)
    if restricted:
        item[RESTRICTED] = {"BOOL": True}
    return item


def _provenance(
    item: Item,
) -> tuple[
    str,
    str,
    str,
    str,
    str,
    datetime | None,
    datetime | None,
    datetime | None,
    datetime | None,
    bool,
]:
    """The fields after the value, as plain and sealed records both order them: provenance,
    collector time, created, updated, expiry, restriction. Raises KeyError or ValueError on
    a malformed item."""
    field_name, json_path, schema, hash_function, app_id = (
        item[attribute]["S"] if attribute in item else "" for attribute in PROVENANCE.values()
    )
    return (
        field_name,
        json_path,
        schema,
        hash_function,
        app_id,
        _decode_time(item.get(COLLECTOR_TSTAMP)),
        _decode_time(item.get(CREATED_AT)),
        _decode_time(item.get(UPDATED_AT)),
        decode_expiry(item),
        item.get(RESTRICTED, {}).get("BOOL") is True,
    )


def is_sealed(item: Item) -> bool:
    return SEALED in item


def decode_sealed(item: Item, pad: bytes | None) -> SealedRecord | ItemFailed:
    """The sealed record stored as ``item``, its ciphertext joined again with ``pad``;
    ``NO_PAD`` without one, ``MALFORMED`` if the item is not in our layout."""
    if pad is None:
        return NO_PAD
    try:
        share = item[SEALED]["B"]
        if len(share) != len(pad):
            return MISMATCHED
        return SealedRecord(
            item[KEY]["S"],
            Sealed(
                item[KEY_VERSION]["S"],
                item[DATA_KEY]["B"],
                xor(share, pad),
                item[BLIND_INDEX]["S"] if BLIND_INDEX in item else "",
                item[KEY_ID]["S"],
            ),
            *_provenance(item),
        )
    except (KeyError, ValueError):
        return MALFORMED


def xor(data: bytes, pad: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(data), "big")


def decode(item: Item) -> Record | ItemFailed:
    """The record stored as ``item``, or ``MALFORMED`` if it is not in our layout.

    Attributes we don't know are ignored: other tools may add their own.
    """
    try:
        return Record(
            item[KEY]["S"],
            item[ORIGINAL]["S"],
            *_provenance(item),
        )
    except (KeyError, ValueError):
        # Neither the item nor the exception (which may quote it) goes any further.
        return MALFORMED


def encode_time(moment: datetime) -> AttributeValueTypeDef:
    """A naive datetime is taken to be UTC, as Snowplow's timestamps are."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {"S": moment.astimezone(UTC).isoformat(timespec="microseconds")}


def encode_expiry(moment: datetime) -> AttributeValueTypeDef:
    """Epoch seconds, rounded up: DynamoDB's TTL reads a number, and a record must not
    expire before its time."""
    return {"N": str(math.ceil(moment.timestamp()))}


def decode_expiry(item: Item) -> datetime | None:
    """The item's expiry; ``None`` without one. DynamoDB's TTL ignores a value that is not
    a number, so this does too, rather than failing the read."""
    value = item.get(EXPIRES_AT)
    if value is None or "N" not in value:
        return None
    try:
        return datetime.fromtimestamp(int(value["N"]), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _decode_time(value: AttributeValueTypeDef | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value["S"])
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
