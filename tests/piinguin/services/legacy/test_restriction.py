"""The original API has no field for an Art. 18(2) ground: a restricted record is refused
to every read through it, in-band, and audited with the key's FAILED_PRECONDITION."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest

from storage import MemoryStorage, Storage
from storage.audit import AuditEvent
from storage.dynamodb import DynamoDBStorage

from .original_client import Connect

pytestmark = pytest.mark.socket

EventsOf = Callable[[str], Awaitable[list[AuditEvent]]]
SECRET = "restricted.person@acme.com"


async def test_a_restricted_record_is_refused_in_band_and_the_others_answered(
    connect: Connect, events_of: EventsOf, storage: Storage, log_output: Callable[[], str]
) -> None:
    writer, reader = connect("writer"), connect("reader")
    await writer.create("key-1", SECRET)
    await writer.create("key-2", "other@acme.com")
    # As RestrictSubject leaves it: the record flagged where it rests.
    assert isinstance(storage, MemoryStorage | DynamoDBStorage)
    await storage.set_restricted(["key-1"], True)

    single = await reader.read("key-1")

    def requests() -> Iterator[object]:
        return iter([reader.read_request("key-2"), reader.read_request("key-1")])

    streamed = await reader.stream(reader.stub.ReadPiiRecords, requests())

    assert not single.status.isSuccess
    assert single.status.message.startswith("restricted at the data subject's request")
    assert not single.HasField("piiRecord")
    assert [r.status.isSuccess for r in streamed] == [True, False]
    assert streamed[0].piiRecord.originalValue == "other@acme.com"
    assert not streamed[1].HasField("piiRecord")
    events = await events_of("reader")
    # The stream's reads are audited in batches of what has arrived: one or two events.
    assert [(k.modified_value, k.code) for e in events for k in e.keys] == [
        ("key-1", 9),
        ("key-2", 0),
        ("key-1", 9),
    ]
    assert all(e.legacy for e in events)
    assert SECRET not in log_output()
