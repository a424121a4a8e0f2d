"""A client generated from the original proto works unchanged, on every backend.

Every call answers gRPC OK; failures are in-band (``status.isSuccess`` false, our message).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from piinguin.access.auth import Authenticator
from storage.dynamodb import DynamoDBStorage
from storage.memory import MemoryAuditStore
from tests.conftest import ServerFactory
from tests.dynamodb_fixtures import dynamodb_client, fresh_table

from .original_client import Connect, OriginalClient
from .principals import POLICY, TOKENS

pytestmark = pytest.mark.socket

NOT_FOUND = "no record is stored under this key"
FIRST, SECOND = "john@acme.com", "jane@acme.com"


def outcomes(responses: list[object]) -> list[tuple[bool, str]]:
    return [(r.status.isSuccess, r.status.message) for r in responses]  # type: ignore[attr-defined]


async def test_create_overwrite_read_delete(
    connect: Connect, log_output: Callable[[], str]
) -> None:
    writer, reader = connect("writer"), connect("reader")

    created = await writer.create("7d8a4b", FIRST)
    replaced = await writer.create("7d8a4b", SECOND)
    read = await reader.read("7d8a4b")
    deleted = await writer.delete("7d8a4b")
    gone = await reader.read("7d8a4b")

    assert outcomes([created, replaced]) == [(True, ""), (True, "")]
    # The original answered an overwrite with "Replaces PiiRecord(<old value>)": not here.
    assert FIRST.encode() not in replaced.SerializeToString()
    assert read.status.isSuccess
    assert read.piiRecord == reader.pb2.PiiRecord(modifiedValue="7d8a4b", originalValue=SECOND)
    assert deleted.status.isSuccess
    assert outcomes([gone]) == [(False, NOT_FOUND)]
    assert not gone.HasField("piiRecord")
    assert FIRST not in log_output()
    assert SECOND not in log_output()


async def test_a_missing_read_fails_in_band(connect: Connect) -> None:
    response = await connect("reader").read("never-stored")

    assert outcomes([response]) == [(False, NOT_FOUND)]
    assert not response.HasField("piiRecord")


async def test_deleting_a_missing_key_succeeds(connect: Connect) -> None:
    response = await connect("writer").delete("never-stored")

    assert outcomes([response]) == [(True, "")]


async def test_invalid_requests_fail_in_band(connect: Connect) -> None:
    writer, reader = connect("writer"), connect("reader")
    no_record = writer.pb2.CreatePiiRecordRequest()

    answers = [
        await writer.create("", "x"),
        await writer.create("key", ""),
        await writer._unary(writer.stub.CreatePiiRecord, no_record),
        await writer.delete(""),
        await reader.read(""),
        await reader.read("key", basis=9),  # an enum value the original never had
    ]

    assert outcomes(answers) == [
        (False, "invalid request: modified_value is empty"),
        (False, "invalid request: original_value is empty"),
        (False, "invalid request: piiRecord is required"),
        (False, "invalid request: modified_value is empty"),
        (False, "invalid request: modified_value is empty"),
        (False, "invalid request: processingBasis 9 is not a known basis"),
    ]


async def test_streams_answer_each_message_in_order(
    connect: Connect, log_output: Callable[[], str]
) -> None:
    writer, reader = connect("writer"), connect("reader")

    created = await writer.stream(
        writer.stub.CreatePiiRecords,
        [
            writer.create_request("k1", "v1@acme.com"),
            writer.create_request("", "lost@acme.com"),
            writer.create_request("k3", "v3@acme.com"),
            writer.create_request("k1", "v1-again@acme.com"),
        ],
    )
    read = await reader.stream(
        reader.stub.ReadPiiRecords,
        [
            reader.read_request("k3"),
            reader.read_request("missing"),
            reader.read_request("", "CONTRACT"),
            reader.read_request("k1", "LEGAL_OBLIGATION"),
        ],
    )
    deleted = await writer.stream(
        writer.stub.DeletePiiRecords,
        [writer.delete_request(key) for key in ("k1", "", "missing", "k3")],
    )
    after = await reader.stream(reader.stub.ReadPiiRecords, [reader.read_request("k1")])

    invalid = "invalid request: modified_value is empty"
    assert outcomes(created) == [(True, ""), (False, invalid), (True, ""), (True, "")]
    assert outcomes(read) == [(True, ""), (False, NOT_FOUND), (False, invalid), (True, "")]
    assert [r.piiRecord.originalValue for r in read] == ["v3@acme.com", "", "", "v1-again@acme.com"]
    assert outcomes(deleted) == [(True, ""), (False, invalid), (True, ""), (True, "")]
    assert outcomes(after) == [(False, NOT_FOUND)]
    assert "@acme.com" not in log_output()


@pytest.mark.parametrize("call", ["CreatePiiRecords", "ReadPiiRecords", "DeletePiiRecords"])
async def test_a_stream_answers_before_the_next_message_is_sent(
    connect: Connect, call: str
) -> None:
    client = connect("reader" if call == "ReadPiiRecords" else "writer")
    make: Callable[[int], Any] = {
        "CreatePiiRecords": lambda i: client.create_request(f"key-{i}", f"value-{i}"),
        "ReadPiiRecords": lambda i: client.read_request(f"key-{i}"),
        "DeletePiiRecords": lambda i: client.delete_request(f"key-{i}"),
    }[call]

    responses = await client.lockstep(getattr(client.stub, call), [make(i) for i in range(3)])

    assert len(responses) == 3


async def test_a_long_stream_keeps_request_order(connect: Connect) -> None:
    writer, reader = connect("writer"), connect("reader")
    keys = [f"key-{i:04}" for i in range(300)]

    created = await writer.stream(
        writer.stub.CreatePiiRecords, [writer.create_request(k, f"v{k}") for k in keys]
    )
    # Every fifth key was never stored: the answers must line up with the requests.
    wanted = [k if i % 5 else f"absent-{i}" for i, k in enumerate(keys)]
    read = await reader.stream(reader.stub.ReadPiiRecords, [reader.read_request(k) for k in wanted])

    assert all(r.status.isSuccess for r in created)
    assert [r.piiRecord.modifiedValue for r in read] == [k if k in keys else "" for k in wanted]
    assert [r.piiRecord.originalValue for r in read] == [
        f"v{k}" if k in keys else "" for k in wanted
    ]


async def test_items_in_the_original_shape_are_read_written_and_deleted(
    start_server: ServerFactory,
    moto_endpoint: str,
    original_modules: tuple[ModuleType, ModuleType],
) -> None:
    async with dynamodb_client(moto_endpoint) as dynamodb, fresh_table(dynamodb) as table:
        # As the original piinguin left it: the key and the value, nothing else.
        await dynamodb.put_item(
            TableName=table,
            Item={"modifiedValue": {"S": "old-key"}, "originalValue": {"S": FIRST}},
        )
        storage = DynamoDBStorage(dynamodb, table)
        async with start_server(
            storage, auth=Authenticator(POLICY), audit=MemoryAuditStore(), legacy_api=True
        ) as server:
            reader = OriginalClient(original_modules, server.port, TOKENS["reader"])
            writer = OriginalClient(original_modules, server.port, TOKENS["writer"])
            try:
                read = await reader.read("old-key")
                streamed = await reader.stream(
                    reader.stub.ReadPiiRecords, [reader.read_request("old-key")]
                )
                replaced = await writer.create("old-key", SECOND)
                stored = await dynamodb.get_item(
                    TableName=table, Key={"modifiedValue": {"S": "old-key"}}, ConsistentRead=True
                )
                deleted = await writer.delete("old-key")
                remaining = await dynamodb.scan(TableName=table)
            finally:
                reader.close()
                writer.close()

    assert read.piiRecord.originalValue == FIRST
    assert streamed[0].piiRecord.originalValue == FIRST
    assert FIRST.encode() not in replaced.SerializeToString()
    assert stored["Item"]["originalValue"] == {"S": SECOND}
    assert deleted.status.isSuccess
    assert remaining["Items"] == []
