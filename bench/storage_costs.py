"""What encryption at rest costs in requests and write units, against moto (server mode):

- KMS: ``--records`` records written through ``EncryptedStorage`` with a KMS keyring, in
  bulk calls of 500 as the relay sends them, then read back by a keyring with an empty
  cache (another process); KMS requests counted through botocore's events, by operation.
- DynamoDB write units: the same kind of records written to a records table and its key
  table, encrypted, and to another table in clear; every item scanned and sized by
  DynamoDB's rule (attribute names and values, in bytes; a write costs one unit per KB,
  rounded up, and a global secondary index write its own).

    python -m bench.storage_costs --endpoint URL [--records N] [--unit-records N] --json FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import aioboto3

from bench import calls
from storage import MemoryStorage, Record
from storage.crypto import Keyring, KmsKeys, LocalKeys
from storage.dynamodb import DynamoDBStorage, create_key_table, create_table
from storage.encrypted import EncryptedStorage

BATCH = 500
KB = 1024


def _records(count: int) -> list[Record]:
    return [
        Record(
            calls.key(i),
            calls.original(i),
            field_name="user_id",
            hash_function="SHA-256",
            app_id="shop",
            collector_tstamp=calls.record(i).collector_tstamp,
        )
        for i in range(count)
    ]


def _session() -> aioboto3.Session:
    return aioboto3.Session(
        region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )


async def kms_calls(endpoint: str, count: int) -> dict[str, Any]:
    records = _records(count)
    backend = MemoryStorage()
    result: dict[str, Any] = {"records": count, "batch": BATCH}
    async with _session().client("kms", endpoint_url=endpoint) as client:
        arn = (await client.create_key())["KeyMetadata"]["Arn"]
        for phase in ("write", "read"):
            counts: Counter[str] = Counter()

            def counting(model: Any, _counts: Counter[str] = counts, **_: Any) -> None:
                _counts[model.name] += 1

            client.meta.events.register("before-call.kms", counting)
            keyring = Keyring(KmsKeys(client, arn, backend, vault="piinguin"))
            store = EncryptedStorage(backend, keyring, vault="piinguin")
            for start in range(0, count, BATCH):
                batch = records[start : start + BATCH]
                if phase == "write":
                    assert await store.put_many(batch) == [None] * len(batch)
                else:
                    got = await store.get_many([r.modified_value for r in batch])
                    assert [getattr(r, "original_value", None) for r in got] == [
                        r.original_value for r in batch
                    ]
            client.meta.events.unregister("before-call.kms", counting)
            result[f"{phase}_calls"] = sum(counts.values())
            result[f"{phase}_by_operation"] = dict(counts)
    return result


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item of strings and binaries: names and values, in bytes."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if "S" in value:
            total += len(value["S"].encode())
        elif "B" in value:
            total += len(value["B"])
        else:
            raise ValueError(f"attribute {name!r} is neither a string nor a binary")
    return total


def units(size: int) -> int:
    return math.ceil(size / KB)


async def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        response = await client.scan(**request)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


async def write_units(endpoint: str, count: int) -> dict[str, Any]:
    records = _records(count)
    async with _session().client("dynamodb", endpoint_url=endpoint) as client:
        tables = {"sealed": "costs-sealed", "keys": "costs-keys", "plain": "costs-plain"}
        await create_table(client, tables["sealed"])
        await create_key_table(client, tables["keys"])
        await create_table(client, tables["plain"])
        sealed = DynamoDBStorage(client, tables["sealed"], key_table=tables["keys"])
        store = EncryptedStorage(sealed, Keyring(LocalKeys.ephemeral(index_bits=22)), vault="v")
        plain = DynamoDBStorage(client, tables["plain"])
        for start in range(0, count, BATCH):
            batch = records[start : start + BATCH]
            assert await store.put_many(batch) == [None] * len(batch)
            assert await plain.put_many(batch) == [None] * len(batch)
        record_items = await _scan(client, tables["sealed"])
        pad_items = await _scan(client, tables["keys"])
        plain_items = await _scan(client, tables["plain"])
    index_items = [{k: item[k] for k in ("modifiedValue", "blindIndex")} for item in record_items]
    per = {
        "record": sum(units(item_bytes(i)) for i in record_items) / len(record_items),
        "pad": sum(units(item_bytes(i)) for i in pad_items) / len(pad_items),
        "index": sum(units(item_bytes(i)) for i in index_items) / len(index_items),
        "plaintext": sum(units(item_bytes(i)) for i in plain_items) / len(plain_items),
    }
    return {
        **per,
        "encrypted": per["record"] + per["pad"] + per["index"],
        "replaced_pad": per["pad"],
        "record_bytes": max(item_bytes(i) for i in record_items),
        "pad_bytes": max(item_bytes(i) for i in pad_items),
        "plaintext_bytes": max(item_bytes(i) for i in plain_items),
        "keyring": "local",
        "records": count,
    }


async def run(endpoint: str, records: int, unit_records: int) -> dict[str, Any]:
    return {
        "kms": await kms_calls(endpoint, records),
        "units": await write_units(endpoint, unit_records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storage_costs")
    parser.add_argument("--endpoint", required=True, help="moto's URL")
    parser.add_argument("--records", type=int, default=10_000, help="for the KMS figure")
    parser.add_argument("--unit-records", type=int, default=1000, help="for write units")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    figures = asyncio.run(run(args.endpoint, args.records, args.unit_records))
    args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
