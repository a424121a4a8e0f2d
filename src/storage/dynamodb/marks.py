"""Erasure and restriction markers (``storage.subjects``) as items of the records table.

A marker's key starts with a control character, which no record key can hold
(``piinguin.limits`` refuses them), so the two never collide; nothing of a value rests in it:

    modifiedValue (HASH, S)                   what it marks
    "\\x1fmark#p#" + SHA-256 hex of it        a pseudonym
    "\\x1fmark#v#" + the value's digest       a value, by its marker digest (a keyed HMAC)

    erasedAt, restrictedAt                    S, when each kind of mark was placed (ISO-8601)
    erasedRef, restrictedRef                  S, the caller's opaque reference for it

Both kinds may rest on one item: each mark is an UpdateItem of its own attributes. Markers
carry no ``expiresAt`` (they never expire) and no ``blindIndex`` (the index never holds
them); ``scan`` leaves them out.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from storage.dynamodb.batch import BatchCall
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.items import KEY, encode_time, key_item
from storage.errors import StorageUnavailable
from storage.records import ERASED, ItemFailed
from storage.subjects import KINDS, Mark, MarkKind, winning

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

    from storage.dynamodb.items import Item

MARKER = "\x1f"
PSEUDONYM_PREFIX = MARKER + "mark#p#"
DIGEST_PREFIX = MARKER + "mark#v#"
#: Each kind's (time, reference) attributes.
ATTRIBUTES: dict[MarkKind, tuple[str, str]] = {
    "erased": ("erasedAt", "erasedRef"),
    "restricted": ("restrictedAt", "restrictedRef"),
}
#: What a write reads of a marker to decide on a record: whether each kind is there.
DECIDING = tuple(at for at, _ in ATTRIBUTES.values())


def pseudonym_key(pseudonym: str) -> str:
    return PSEUDONYM_PREFIX + hashlib.sha256(pseudonym.encode()).hexdigest()


def digest_key(digest: str) -> str:
    return DIGEST_PREFIX + digest


def is_marker(key: str) -> bool:
    return key.startswith(MARKER)


def marker_keys(pseudonym: str, digest: str) -> tuple[str, ...]:
    """The markers that decide a write of ``pseudonym`` (with ``digest``, "" for none)."""
    return (pseudonym_key(pseudonym), digest_key(digest)) if digest else (pseudonym_key(pseudonym),)


def marks_in(item: Item) -> dict[MarkKind, Mark]:
    """The marks a marker item holds (a projection without references gives them as "")."""
    found: dict[MarkKind, Mark] = {}
    for kind in KINDS:
        at, reference = ATTRIBUTES[kind]
        if "S" in item.get(at, {}):
            moment = datetime.fromisoformat(item[at]["S"])
            found[kind] = Mark(kind, moment, item.get(reference, {}).get("S", ""))
    return found


def screen(
    wanted: Mapping[str, Sequence[str]],
    found: Mapping[str, Item],
    unread: Mapping[str, ItemFailed],
    *,
    unread_as: str = "not written, its marks unread",
) -> tuple[dict[str, ItemFailed], set[str]]:
    """For each record key and its marker keys (``wanted``), given what a read of the
    markers found and failed: the records not to write (``ERASED``, or a failure saying
    ``unread_as`` where a marker was not read) and those to write restricted."""
    refused: dict[str, ItemFailed] = {}
    restricted: set[str] = set()
    for key, markers in wanted.items():
        failure = next((unread[m] for m in markers if m in unread), None)
        if failure is not None:
            refused[key] = ItemFailed(f"{unread_as}: {failure.reason}")
            continue
        kinds: dict[MarkKind, Mark] = {}
        for marker in markers:
            if marker in found:
                kinds |= marks_in(found[marker])
        mark = winning(kinds)
        if mark is not None and mark.kind == "erased":
            refused[key] = ERASED
        elif mark is not None:
            restricted.add(key)
    return refused, restricted


class Markers:
    """Places and lifts marks with one UpdateItem per marker, retried as batch requests
    are (through the caller's ``BatchCall``), and flips records' ``restricted`` flags."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    async def mark(
        self, call: BatchCall, kind: MarkKind, keys: Sequence[str], reference: str, at: datetime
    ) -> None:
        at_name, reference_name = ATTRIBUTES[kind]
        update = {
            "UpdateExpression": "SET #a = :a, #r = :r",
            "ExpressionAttributeNames": {"#a": at_name, "#r": reference_name},
            "ExpressionAttributeValues": {":a": encode_time(at), ":r": {"S": reference}},
        }
        await self._all_or_raise(call, keys, update, "written")

    async def unmark(self, call: BatchCall, kind: MarkKind, keys: Sequence[str]) -> None:
        at_name, reference_name = ATTRIBUTES[kind]
        update = {
            "UpdateExpression": "REMOVE #a, #r",
            "ExpressionAttributeNames": {"#a": at_name, "#r": reference_name, "#k": KEY},
            # Lifting a mark never creates a marker item.
            "ConditionExpression": "attribute_exists(#k)",
            "ReturnValues": "ALL_NEW",
        }
        await self._all_or_raise(call, keys, update, "lifted")

    async def set_restricted(
        self, call: BatchCall, keys: Sequence[str], restricted: bool
    ) -> dict[str, ItemFailed]:
        update: dict[str, Any] = {
            "ExpressionAttributeNames": {"#r": "restricted", "#k": KEY},
            # A record not stored stays not stored: nothing is created.
            "ConditionExpression": "attribute_exists(#k)",
        }
        if restricted:
            update["UpdateExpression"] = "SET #r = :r"
            update["ExpressionAttributeValues"] = {":r": {"BOOL": True}}
        else:
            update["UpdateExpression"] = "REMOVE #r"
        return await self._update_each(call, keys, update)

    async def _all_or_raise(
        self, call: BatchCall, keys: Sequence[str], update: dict[str, Any], done: str
    ) -> None:
        failed = await self._update_each(call, keys, update)
        if failed:
            reason = next(iter(failed.values())).reason
            raise StorageUnavailable(f"{len(failed)} of {len(keys)} marks not {done}: {reason}")

    async def _update_each(
        self, call: BatchCall, keys: Sequence[str], update: dict[str, Any]
    ) -> dict[str, ItemFailed]:
        """``update`` applied to each key (unique, in no order); a failed condition is
        done; answers the keys still undone at the call's deadline."""

        async def send(batch: list[str]) -> list[str]:
            for key in batch:
                await self._update(key, update)
            return []

        return await call.send_in_batches(list(dict.fromkeys(keys)), 1, send)

    async def _update(self, key: str, update: dict[str, Any]) -> None:
        with map_dynamodb_errors(self._table), _unless_condition_failed():
            response = await self._client.update_item(
                TableName=self._table, Key=key_item(key), **update
            )
            left = response.get("Attributes")
            if left is not None and not marks_in(left):
                # The last mark lifted: the marker goes, unless one came back meanwhile.
                await self._client.delete_item(
                    TableName=self._table,
                    Key=key_item(key),
                    ConditionExpression=" AND ".join(
                        f"attribute_not_exists({name})" for name in DECIDING
                    ),
                )


@contextlib.contextmanager
def _unless_condition_failed() -> Iterator[None]:
    """A failed condition means there was nothing to do."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
