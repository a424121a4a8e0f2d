"""Records in a DynamoDB table, batch first; sealed ones with their pads in a key table.

The item layout is in ``items``, the key table in ``keys``, the batching and retries in
``batch``, the error translation in ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from storage.dynamodb.batch import (
    MAX_GET_BATCH,
    MAX_WRITE_BATCH,
    BatchCall,
    BatchObserver,
    BatchPolicy,
)
from storage.dynamodb.errors import map_dynamodb_errors
from storage.dynamodb.items import (
    BLIND_INDEX,
    CREATED_AT,
    EXPIRES_AT,
    KEY,
    KEY_ID,
    decode,
    decode_expiry,
    decode_sealed,
    encode,
    encode_sealed,
    encode_time,
    is_sealed,
    key_item,
    key_of,
)
from storage.dynamodb.keys import LAYOUT as KEY_LAYOUT
from storage.dynamodb.keys import KeyTable, new_key_id, split
from storage.dynamodb.marks import (
    DECIDING,
    PSEUDONYM_PREFIX,
    Markers,
    digest_key,
    is_marker,
    marker_keys,
    marks_in,
    pseudonym_key,
    screen,
)
from storage.dynamodb.rewrite import replace_items, scan_items
from storage.dynamodb.tables import Layout, add_index, create, verify
from storage.errors import StorageMisconfigured, StorageUnavailable
from storage.records import (
    ItemFailed,
    ReadOutcome,
    Record,
    ReplaceOutcome,
    ScanPage,
    SealedRecord,
    StoredOutcome,
    WriteOutcome,
    utcnow,
)
from storage.retention import Retention, expired
from storage.subjects import Lookup, MarkKind, Marks, winning

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        QueryInputTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

    from storage.dynamodb.items import Item


#: The name of the blind index's global secondary index, on the attribute of that name.
INDEX_NAME = BLIND_INDEX
LAYOUT = Layout("table", KEY, index=(INDEX_NAME, BLIND_INDEX), ttl=EXPIRES_AT)
SEALED_BY_OTHERS = ItemFailed("the stored value is encrypted: read it with a keyring", damaged=True)


async def create_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the records table on demand (PAY_PER_REQUEST), with its blind index, unless
    it exists, then wait until it is ACTIVE, and turn on its TTL on ``expiresAt``. For
    development: production tables belong to infrastructure code."""
    await create(client, table_name, LAYOUT, poll_seconds=poll_seconds, max_polls=max_polls)


async def add_blind_index(
    client: DynamoDBClient, table_name: str, *, poll_seconds: float = 5, max_polls: int = 720
) -> bool:
    """Add the blind index to an existing records table (``piinguin-admin add-index``) and
    wait until DynamoDB has filled it; answers whether it was added now."""
    return await add_index(
        client, table_name, LAYOUT, poll_seconds=poll_seconds, max_polls=max_polls
    )


async def create_key_table(
    client: DynamoDBClient, table_name: str, *, poll_seconds: int = 1, max_polls: int = 120
) -> None:
    """Create the key table on demand, as ``create_table`` does the records table."""
    await create(client, table_name, KEY_LAYOUT, poll_seconds=poll_seconds, max_polls=max_polls)


class DynamoDBStorage:
    """The ``Storage`` and ``SealedStorage`` interfaces on a DynamoDB table keyed by the
    string ``modifiedValue``; sealed records need a ``key_table`` for their pads.

    Takes a ready aioboto3 DynamoDB client and never opens or closes it: whoever made it
    owns it. Each bulk call is cut into BatchWriteItem (25) and BatchGetItem (100) requests,
    sent and retried as ``policy`` says. Reads are strongly consistent, so they see every
    write acknowledged before them; lookups by blind index read a global secondary index,
    which is eventually consistent.

    With a ``retention`` policy each write sets its item's ``expiresAt``, the table's TTL
    attribute. DynamoDB deletes expired items in its own time (within days), so reads
    answer an expired item as not stored at once.

    Erasure and restriction marks rest in the same table, as marker items (``marks``).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        key_table: str | None = None,
        policy: BatchPolicy | None = None,
        observer: BatchObserver | None = None,
        clock: Callable[[], datetime] = utcnow,
        retention: Retention | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._keys = KeyTable(client, key_table) if key_table is not None else None
        self._markers = Markers(client, table_name)
        self._policy = policy if policy is not None else BatchPolicy()
        self._observer = observer
        self._clock = clock
        self._retention = retention

    def _batches(self) -> BatchCall:
        """The batch requests of one bulk call: its deadline, its retries told."""
        return BatchCall(self._policy, store="records", observer=self._observer)

    async def check(self) -> None:
        await verify(self._client, self._table, LAYOUT)
        if self._keys is not None:
            await verify(self._client, self._keys.name, KEY_LAYOUT)

    def _key_table(self) -> KeyTable:
        if self._keys is None:
            raise StorageMisconfigured(
                f"DynamoDB table {self._table!r} is used without a key table: sealed "
                "records need one"
            )
        return self._keys

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        latest = {record.modified_value: record for record in records}
        call = self._batches()
        markers = {key: marker_keys(key, "") for key in latest}
        stored, failed, restricted = await self._read_before_write(
            call, markers, (KEY, CREATED_AT, EXPIRES_AT)
        )
        moment = self._clock()
        now, retention = encode_time(moment), self._retention
        created = self._created(stored, moment)
        requests: dict[str, WriteRequestTypeDef] = {
            key: {
                "PutRequest": {
                    "Item": encode(
                        record,
                        created_at=created.get(key, now),
                        updated_at=now,
                        expires_at=retention.expires_at(record.field_name, moment)
                        if retention
                        else None,
                        restricted=key in restricted,
                    )
                }
            }
            for key, record in latest.items()
            if key not in failed
        }
        failed |= await self._write(call, requests)
        failed |= await self._settle(markers, requests.keys() - failed.keys(), restricted)
        return [failed.get(record.modified_value) for record in records]

    async def _read_before_write(
        self, call: BatchCall, markers: dict[str, tuple[str, ...]], attributes: tuple[str, ...]
    ) -> tuple[dict[str, Item], dict[str, ItemFailed], set[str]]:
        """What a write must know first: each record's stored item (``attributes`` of it),
        and its markers; answers the items found, the records not to write (unread, or
        erased) and those to write restricted.

        BatchWriteItem replaces whole items, so keeping created_at takes a read first; the
        markers (``marks``) are read in the same strongly consistent BatchGetItem round, 100
        keys a request. The projection trims the response, not the bill: each key costs a
        read unit (per 4 KB of its stored item, and one even when nothing is stored) on top
        of its write unit (per 1 KB): a record read is one, its pseudonym's marker another,
        its value's marker (sealed records) a third. A key whose read stays unprocessed is
        failed, not written with a guessed created_at or unchecked marks. Two concurrent
        first writes of one key both see nothing stored; the later one's created_at stands.
        """
        wanted = list(markers) + list(dict.fromkeys(m for keys in markers.values() for m in keys))
        found, unread = await self._get(call, wanted, attributes=(*attributes, *DECIDING))
        failed = {
            key: ItemFailed(f"not written, its createdAt unread: {unread[key].reason}")
            for key in markers
            if key in unread
        }
        refused, restricted = screen(markers, found, unread)
        # An erased key that still holds a record: a write that raced an erasure and whose
        # second read of its marks failed (``_settle``). Its retry ends it here.
        if leftover := [key for key, failure in refused.items() if failure.erased and key in found]:
            await self._delete(call, leftover)
        return found, refused | failed, restricted

    async def _settle(
        self,
        markers: dict[str, tuple[str, ...]],
        written: Collection[str],
        restricted: set[str],
    ) -> dict[str, ItemFailed]:
        """Read the marks of the records just ``written`` again, in one strongly consistent
        BatchGetItem round (100 keys a request), and catch up with an act placed meanwhile:
        a record now marked erased is deleted with its every pad (``ERASED``), one
        whose marks stay unread is answered failed (its retry's first read deletes it if
        it was erased), and one now marked restricted but written without the flag gets it
        (``restricted``: those written with it). Answers the records that are not stored as written.

        BatchWriteItem takes no condition, so an erasure (mark M, then delete D) or a
        restriction (mark M, then flag D) may land between the first read of the marks and
        the write W. Strongly consistent reads see every write acknowledged before them, so
        for this re-read R after W: if R does not see M, then W < R < M < D and the act's
        own D deletes or flags W's record; if R sees M, the writer undoes or flags it here.
        Either way the record does not survive unflagged. The cost: one more read unit per
        marker of each record written (1 in clear, 2 sealed), no request per record.

        It has a deadline of its own: a write whose retries spent the call's deadline is
        still checked, not failed for a re-read sent once.
        """
        wanted = {key: markers[key] for key in written}
        if not wanted:
            return {}
        call = self._batches()
        asked = list(dict.fromkeys(m for ms in wanted.values() for m in ms))
        found, unread = await self._get(call, asked, attributes=(KEY, *DECIDING))
        refused, marked = screen(
            wanted, found, unread, unread_as="stored, its marks unread after the write: retry"
        )
        failed = dict(refused)
        # Only what an erasure marked is undone. A record whose marks stay unread stays
        # stored, answered failed: deleting it would lose the acknowledged version it
        # replaced to a throttled read; the retry's first read deletes it if it was erased.
        if erased := [key for key, failure in refused.items() if failure.erased]:
            undone = await self._delete(call, erased)
            failed |= {
                key: ItemFailed(f"stored, marked meanwhile, and not undone: {failure.reason}")
                for key, failure in undone.items()
            }
        if late := [key for key in marked if key not in restricted]:
            unflagged = await self._markers.set_restricted(call, late, True)
            failed |= {
                key: ItemFailed(f"stored, restricted meanwhile, not flagged: {failure.reason}")
                for key, failure in unflagged.items()
            }
        return failed

    def _created(self, stored: dict[str, Item], now: datetime) -> dict[str, AttributeValueTypeDef]:
        """The ``createdAt`` each stored item keeps when written again: none once it has
        expired, as it is then a new record."""
        return {
            key: item[CREATED_AT]
            for key, item in stored.items()
            if CREATED_AT in item and not expired(decode_expiry(item), now)
        }

    def _live(self, found: dict[str, Item]) -> dict[str, Item]:
        """``found`` without the items that have expired (DynamoDB has yet to delete them)."""
        if not any(EXPIRES_AT in item for item in found.values()):
            return found
        now = self._clock()
        return {key: item for key, item in found.items() if not expired(decode_expiry(item), now)}

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        found, failed = await self._get(self._batches(), list(dict.fromkeys(keys)))
        found = self._live(found)
        records = {
            key: SEALED_BY_OTHERS if is_sealed(item) else decode(item)
            for key, item in found.items()
        }
        return [failed[key] if key in failed else records.get(key) for key in keys]

    async def put_sealed(self, records: Sequence[SealedRecord]) -> list[WriteOutcome]:
        """As ``put_many``: a pad per record into the key table first, then the records
        naming them, then the pads the records no longer name out (README, "Erasure")."""
        keys = self._key_table()
        latest = {record.modified_value: record for record in records}
        call = self._batches()
        markers = {key: marker_keys(key, record.sealed.digest) for key, record in latest.items()}
        stored, failed, restricted = await self._read_before_write(
            call, markers, (KEY, CREATED_AT, KEY_ID, EXPIRES_AT)
        )
        shares: dict[str, tuple[str, bytes]] = {}
        pads: dict[str, tuple[str, bytes]] = {}
        for key, record in latest.items():
            if key not in failed:
                share, pad = split(record.sealed.ciphertext)
                key_id = new_key_id()
                shares[key], pads[key] = (key_id, share), (key_id, pad)
        moment = self._clock()
        now, retention = encode_time(moment), self._retention
        expiries = {
            key: retention.expires_at(record.field_name, moment) if retention else None
            for key, record in latest.items()
        }
        failed |= await keys.put(call, pads, expiries)
        created = self._created(stored, moment)
        requests: dict[str, WriteRequestTypeDef] = {
            key: {
                "PutRequest": {
                    "Item": encode_sealed(
                        latest[key],
                        share,
                        key_id,
                        created_at=created.get(key, now),
                        updated_at=now,
                        expires_at=expiries[key],
                        restricted=key in restricted,
                    )
                }
            }
            for key, (key_id, share) in shares.items()
            if key not in failed
        }
        unwritten = await self._write(call, requests)
        failed |= unwritten
        # The pads no record names any more: the replaced ones, and those of records that
        # were not written. One still here after a failure is erased with its record.
        stale = [(key, pads[key][0]) for key in unwritten] + [
            (key, stored[key][KEY_ID]["S"])
            for key in requests
            if key not in unwritten and KEY_ID in stored.get(key, {})
        ]
        if stale:
            await keys.remove(call, stale)
        failed |= await self._settle(markers, requests.keys() - failed.keys(), restricted)
        return [failed.get(record.modified_value) for record in records]

    async def get_stored(self, keys: Sequence[str]) -> list[StoredOutcome]:
        call = self._batches()
        found, failed = await self._get(call, list(dict.fromkeys(keys)))
        outcomes = await self._decoded(call, self._live(found))
        return [failed[key] if key in failed else outcomes.get(key) for key in keys]

    async def _decoded(
        self, call: BatchCall, found: dict[str, Item]
    ) -> dict[str, Record | SealedRecord | ItemFailed]:
        """Each item as a record; a sealed one joined with its pad from the key table."""
        # A sealed item without a keyId has no pad to find: it reads as damaged.
        wanted = {
            key: item[KEY_ID]["S"]
            for key, item in found.items()
            if is_sealed(item) and "S" in item.get(KEY_ID, {})
        }
        pads: dict[str, bytes] = {}
        unread: dict[str, ItemFailed] = {}
        if wanted:
            pads, unread = await self._key_table().get(call, wanted)
        return {
            key: unread.get(key)
            or (decode_sealed(item, pads.get(key)) if is_sealed(item) else decode(item))
            for key, item in found.items()
        }

    async def scan(self, resume_after: str | None, limit: int) -> ScanPage:
        items, resume = await scan_items(self._client, self._table, resume_after, limit)
        found = self._live({key_of(item): item for item in items if not is_marker(key_of(item))})
        outcomes = await self._decoded(BatchCall(self._policy), found) if found else {}
        return ScanPage(list(outcomes.items()), resume)

    async def replace_sealed(
        self, replacements: Sequence[tuple[Record | SealedRecord, SealedRecord]]
    ) -> list[ReplaceOutcome]:
        if not replacements:
            return []
        call = BatchCall(self._policy)
        return await replace_items(self._client, self._table, self._key_table(), call, replacements)

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        """Delete keys, each sealed record's every pad first (one Query per key finds
        them: erasure must not miss one a failed write left behind)."""
        failed = await self._delete(self._batches(), keys)
        return [failed.get(key) for key in keys]

    async def _delete(self, call: BatchCall, keys: Sequence[str]) -> dict[str, ItemFailed]:
        failed: dict[str, ItemFailed] = {}
        if self._keys is not None:
            failed |= await self._keys.remove(call, await self._keys.every_pad(keys))
        requests: dict[str, WriteRequestTypeDef] = {
            key: {"DeleteRequest": {"Key": key_item(key)}} for key in keys
        }
        return await self._write(call, requests) | failed

    async def value_digest(self, value: str) -> str | None:
        return None

    async def find(self, value: str) -> Lookup:
        return Lookup([], [], indexed=False)

    async def mark(
        self,
        kind: MarkKind,
        pseudonyms: Sequence[str],
        digests: Sequence[str],
        *,
        reference: str,
        at: datetime,
    ) -> None:
        keys = [pseudonym_key(p) for p in pseudonyms] + [digest_key(d) for d in digests]
        await self._markers.mark(self._batches(), kind, keys, reference, at)

    async def unmark(
        self, kind: MarkKind, pseudonyms: Sequence[str], digests: Sequence[str]
    ) -> None:
        keys = [pseudonym_key(p) for p in pseudonyms] + [digest_key(d) for d in digests]
        await self._markers.unmark(self._batches(), kind, keys)

    async def marks(self, pseudonyms: Sequence[str], digests: Sequence[str]) -> Marks:
        """Strongly consistent; a marker left unread fails the call (``StorageUnavailable``):
        an answer must be complete."""
        asked = {pseudonym_key(p): p for p in pseudonyms} | {digest_key(d): d for d in digests}
        found, failed = await self._get(self._batches(), list(asked))
        if failed:
            reason = next(iter(failed.values())).reason
            raise StorageUnavailable(f"{len(failed)} marks could not be read: {reason}")
        answer = Marks({}, {})
        for key, item in found.items():
            mark = winning(marks_in(item))
            if mark is not None:
                into = answer.pseudonyms if key.startswith(PSEUDONYM_PREFIX) else answer.digests
                into[asked[key]] = mark
        return answer

    async def set_restricted(self, keys: Sequence[str], restricted: bool) -> list[WriteOutcome]:
        """One conditional UpdateItem per key: a key not stored fails its condition, and is
        done."""
        failed = await self._markers.set_restricted(self._batches(), keys, restricted)
        return [failed.get(key) for key in keys]

    async def find_index(self, index: str) -> list[str]:
        found: list[str] = []
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "#i = :i",
            "ExpressionAttributeNames": {"#i": BLIND_INDEX},
            "ExpressionAttributeValues": {":i": {"S": index}},
        }
        while True:
            try:
                with map_dynamodb_errors(self._table):
                    response = await self._client.query(**request)
            except StorageMisconfigured:
                await self._require_index()
                raise
            found += [key_of(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def _require_index(self) -> None:
        """Raise naming the missing blind index if that is what a refusal was about
        (DynamoDB says ValidationException, moto ResourceNotFoundException)."""
        with map_dynamodb_errors(self._table):
            table = (await self._client.describe_table(TableName=self._table))["Table"]
        names = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
        if INDEX_NAME not in names:
            raise StorageMisconfigured(
                f"DynamoDB table {self._table!r} has no {INDEX_NAME!r} index: add it with "
                "piinguin-admin add-index"
            )

    async def load_entry(self, name: str) -> bytes | None:
        return await self._key_table().load_entry(name)

    async def store_entry(self, name: str, value: bytes) -> bytes:
        return await self._key_table().store_entry(name, value)

    async def replace_entry(self, name: str, value: bytes) -> None:
        await self._key_table().replace_entry(name, value)

    async def _write(
        self, call: BatchCall, requests: dict[str, WriteRequestTypeDef]
    ) -> dict[str, ItemFailed]:
        """Send one put or delete per key; answer the keys that failed."""

        async def send(keys: list[str]) -> list[str]:
            with map_dynamodb_errors(self._table):
                response = await self._client.batch_write_item(
                    RequestItems={self._table: [requests[key] for key in keys]}
                )
            return [
                _written_key(request)
                for request in response.get("UnprocessedItems", {}).get(self._table, [])
            ]

        return await call.send_in_batches(list(requests), MAX_WRITE_BATCH, send)

    async def _get(
        self, call: BatchCall, keys: Sequence[str], attributes: Sequence[str] = ()
    ) -> tuple[dict[str, Item], dict[str, ItemFailed]]:
        """Read ``keys`` (unique), strongly consistent, only ``attributes`` if given.

        Answers the items found by key, and the keys that failed; a key in neither is
        not stored.
        """
        found: dict[str, Item] = {}
        request: KeysAndAttributesTypeDef = {"Keys": [], "ConsistentRead": True}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names

        async def send(batch: list[str]) -> list[str]:
            with map_dynamodb_errors(self._table):
                response = await self._client.batch_get_item(
                    RequestItems={self._table: {**request, "Keys": [key_item(k) for k in batch]}}
                )
            items = response.get("Responses", {}).get(self._table, [])
            found.update((key_of(item), item) for item in items)
            left = response.get("UnprocessedKeys", {}).get(self._table, {"Keys": []})
            return [key_of(key) for key in left["Keys"]]

        failed = await call.send_in_batches(keys, MAX_GET_BATCH, send)
        return found, failed


def _written_key(request: WriteRequestOutputTypeDef) -> str:
    if "PutRequest" in request:
        return key_of(request["PutRequest"]["Item"])
    return key_of(request["DeleteRequest"]["Key"])
