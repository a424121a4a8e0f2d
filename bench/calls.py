"""The calls the load makes, encoded once, and the records they need stored first.

The load sends the same bytes to Piinguin and to the reference (the bearer token too,
which the reference ignores), so neither side pays for the client's encoding, and the
two are compared on exactly the same work.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.encoding.base import CodecBase

from piinguin.v1 import (
    CreatePiiRecordsRequest,
    LawfulBasis,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
    ReadPiiRecordsRequest,
)

SERVICE = "/piinguin.v1.Piinguin/"
TOKEN = "piinguin-bench-token"  # a throwaway token for throwaway servers
PURPOSE = "benchmark"
_COLLECTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def key(i: int) -> str:
    """The i-th pseudonym: SHA-256 hex, as enrich writes them."""
    return hashlib.sha256(original(i).encode()).hexdigest()


def original(i: int) -> str:
    return f"user{i:07d}@example.com"


def record(i: int) -> PiiRecord:
    return PiiRecord(
        modified_value=key(i),
        original_value=original(i),
        field_name="user_id",
        hash_function="SHA-256",
        app_id="shop",
        collector_tstamp=_COLLECTED,
    )


def frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: no compression flag, 4-byte big-endian length."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


@dataclass(frozen=True, slots=True)
class Call:
    """One request as it goes on the wire; ``items`` records or keys per call."""

    method: str
    body: bytes  # framed
    items: int

    @property
    def path(self) -> str:
        return SERVICE + self.method


def unary_read() -> Call:
    request = ReadPiiRecordRequest(
        modified_value=key(0), lawful_basis=LawfulBasis.CONSENT, purpose=PURPOSE
    )
    return Call("ReadPiiRecord", frame(bytes(request)), 1)


def bulk_create(count: int) -> Call:
    request = CreatePiiRecordsRequest(records=[record(i) for i in range(count)])
    return Call("CreatePiiRecords", frame(bytes(request)), count)


def bulk_read(count: int) -> Call:
    request = ReadPiiRecordsRequest(
        modified_values=[key(i) for i in range(count)],
        lawful_basis=LawfulBasis.CONSENT,
        purpose=PURPOSE,
    )
    return Call("ReadPiiRecords", frame(bytes(request)), count)


def seed(port: int, count: int, *, connections: int = 1) -> int:
    """Store records 0..count-1, then read them back; the size of one framed
    ``ReadPiiRecord`` response, to check the load's answers against. Raises
    ``RuntimeError`` unless every record reads back as written.

    A server with several workers and in-memory storage keeps records per worker, and
    each connection goes to one worker: ``connections`` new connections each write the
    records, and as many others each read them back.
    """
    return asyncio.run(_seed(port, count, connections))


async def _seed(port: int, count: int, connections: int) -> int:
    records = CreatePiiRecordsRequest(records=[record(i) for i in range(count)])
    keys = [key(i) for i in range(count)]
    bulk = ReadPiiRecordsRequest(
        modified_values=keys, lawful_basis=LawfulBasis.CONSENT, purpose=PURPOSE
    )
    one = ReadPiiRecordRequest(
        modified_value=keys[0], lawful_basis=LawfulBasis.CONSENT, purpose=PURPOSE
    )
    metadata = {"authorization": f"Bearer {TOKEN}"}
    for _ in range(connections):
        async with Channel("127.0.0.1", port) as channel:
            created = await PiinguinStub(channel).create_pii_records(records, metadata=metadata)
        if any(result.code for result in created.results) or len(created.results) != count:
            raise RuntimeError(f"seeding port {port}: not every record was written")
    sizes = set()
    for _ in range(connections):
        async with Channel("127.0.0.1", port) as channel:
            stub = PiinguinStub(channel)
            read = await stub.read_pii_records(bulk, metadata=metadata)
            sizes.add(len(frame(bytes(await stub.read_pii_record(one, metadata=metadata)))))
        found = [r.record.original_value if r.record else None for r in read.results]
        if found != [original(i) for i in range(count)]:
            raise RuntimeError(f"seeding port {port}: the records did not read back as written")
    return max(sizes)


class _Raw(CodecBase):
    """Passes message bytes through: the probe sends exactly what the load sends."""

    __content_subtype__ = "proto"

    def encode(self, message: object, message_type: object) -> bytes:
        assert isinstance(message, bytes)
        return message

    def decode(self, data: bytes, message_type: object) -> bytes:
        return data


def probe(port: int, call: Call) -> int:
    """Make ``call`` once as the load will; the size of its framed response. A call
    that fails raises (grpclib's ``GRPCError``), so no benchmark measures errors."""
    return asyncio.run(_probe(port, call))


async def _probe(port: int, call: Call) -> int:
    channel = Channel("127.0.0.1", port, codec=_Raw())
    try:
        method = UnaryUnaryMethod[bytes, bytes](channel, call.path, bytes, bytes)
        reply = await method(call.body[5:], metadata={"authorization": f"Bearer {TOKEN}"})
    finally:
        channel.close()
    return len(frame(reply))
