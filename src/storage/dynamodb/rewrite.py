"""Walking the records table and rewriting items in place, for operator commands
(``storage.migrate``: sealing plaintext items, re-encrypting under a new key version).

A replacement is conditional, one item at a time, so that a write the server makes in the
meantime always wins: the new pad goes into the key table, then the record is put only if
it still rests as it was read (a plaintext item's value and ``updatedAt``; a sealed
item's ``keyId``, which every write renews); the pad no record names is deleted after.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from storage.dynamodb.batch import BatchCall
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.items import (
    KEY,
    KEY_ID,
    ORIGINAL,
    RESTRICTED,
    SEALED,
    UPDATED_AT,
    encode_sealed,
    encode_time,
)
from storage.dynamodb.keys import KeyTable, new_key_id, split
from storage.records import (
    CHANGED,
    Record,
    ReplaceOutcome,
    SealedRecord,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import ScanInputTypeDef

    from storage.dynamodb.items import Item

#: Conditional puts in flight at once.
CONCURRENCY = 8


async def scan_items(
    client: DynamoDBClient, table: str, resume_after: str | None, limit: int
) -> tuple[list[Item], str | None]:
    """Up to ``limit`` items from just after ``resume_after``, strongly consistent, and the
    key to resume after (``None`` at the end)."""
    request: ScanInputTypeDef = {"TableName": table, "Limit": limit, "ConsistentRead": True}
    if resume_after is not None:
        request["ExclusiveStartKey"] = {KEY: {"S": resume_after}}
    with map_dynamodb_errors(table):
        response = await client.scan(**request)
    items = response.get("Items", [])
    last = response.get("LastEvaluatedKey")
    return items, (last[KEY]["S"] if last is not None else None)


def _expectation(expected: Record | SealedRecord) -> dict[str, Any]:
    """The condition that the item still rests as ``expected``."""
    names = {"#k": KEY, "#u": UPDATED_AT}
    values: dict[str, Any] = {}
    if isinstance(expected, SealedRecord):
        names["#i"] = KEY_ID
        values[":i"] = {"S": expected.sealed.revision}
        condition = "#i = :i"
    else:
        names |= {"#o": ORIGINAL, "#s": SEALED}
        values[":o"] = {"S": expected.original_value}
        condition = "attribute_not_exists(#s) AND #o = :o"
    # set_restricted changes neither keyId nor updatedAt: a flip must not be undone.
    names["#r"] = RESTRICTED
    if expected.restricted:
        values[":r"] = {"BOOL": True}
        condition += " AND #r = :r"
    else:
        condition += " AND attribute_not_exists(#r)"
    if expected.updated_at is None:
        condition += " AND attribute_not_exists(#u)"
    else:
        values[":u"] = encode_time(expected.updated_at)
        condition += " AND #u = :u"
    return {
        "ConditionExpression": f"attribute_exists(#k) AND {condition}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


async def replace_items(
    client: DynamoDBClient,
    table: str,
    keys: KeyTable,
    call: BatchCall,
    replacements: Sequence[tuple[Record | SealedRecord, SealedRecord]],
) -> list[ReplaceOutcome]:
    """Each (expected, new) put in place if the item still rests as expected."""
    pads: dict[str, tuple[str, bytes]] = {}
    shares: dict[str, bytes] = {}
    for _, new in replacements:
        share, pad = split(new.sealed.ciphertext)
        pads[new.modified_value], shares[new.modified_value] = (new_key_id(), pad), share
    failed = await keys.put(
        call, pads, {new.modified_value: new.expires_at for _, new in replacements}
    )
    limit = asyncio.Semaphore(CONCURRENCY)

    async def replace(expected: Record | SealedRecord, new: SealedRecord) -> ReplaceOutcome:
        key = new.modified_value
        if key in failed:
            return failed[key]
        item = encode_sealed(
            new,
            shares[key],
            pads[key][0],
            created_at=encode_time(new.created_at) if new.created_at else {},
            updated_at=encode_time(new.updated_at) if new.updated_at else {},
            expires_at=new.expires_at,
            restricted=new.restricted,
        )
        async with limit:
            with _conditional(table) as outcome:
                await client.put_item(
                    TableName=table,
                    Item={name: value for name, value in item.items() if value},  # no time: none
                    **_expectation(expected),
                )
        return outcome.result

    outcomes = await asyncio.gather(*(replace(e, n) for e, n in replacements))
    # Pads no record names: the new ones of replacements not made, the old ones of those made.
    stale = [
        (new.modified_value, pads[new.modified_value][0])
        for (_, new), outcome in zip(replacements, outcomes, strict=True)
        if outcome is CHANGED
    ] + [
        (new.modified_value, expected.sealed.revision)
        for (expected, new), outcome in zip(replacements, outcomes, strict=True)
        if outcome is None and isinstance(expected, SealedRecord) and expected.sealed.revision
    ]
    if stale:
        await keys.remove(call, stale)
    return list(outcomes)


class _Outcome:
    result: ReplaceOutcome = None


@contextlib.contextmanager
def _conditional(table: str) -> Iterator[_Outcome]:
    """Errors mapped as ever, except a failed condition: that is ``CHANGED``."""
    outcome = _Outcome()
    with map_dynamodb_errors(table):
        try:
            yield outcome
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            outcome.result = CHANGED
