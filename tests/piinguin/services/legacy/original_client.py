"""A grpcio client generated at test time from ``original_piinguin.proto``: what the
original piinguin's users run, with nothing of ours in it.

The generated modules register ``original_piinguin.proto`` in protobuf's default pool,
where grpclib's health and reflection modules live too; the legacy package clashes with
neither, so the client runs in the test's process, its blocking calls in a thread.
"""

from __future__ import annotations

import asyncio
import importlib
import queue
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from grpc_tools import protoc

PROTO = Path(__file__).with_name("original_piinguin.proto")
TIMEOUT = 10.0
#: The original enum, by name: CONSENT is 0, the value a request that leaves it out claims.
BASES = (
    "CONSENT",
    "CONTRACT",
    "LEGAL_OBLIGATION",
    "VITAL_INTERESTS",
    "PUBLIC_TASK",
    "LEGITIMATE_INTERESTS",
)


def generate(out: Path) -> tuple[ModuleType, ModuleType]:
    """protoc's Python and grpcio output for the proto, written to ``out`` and imported."""
    code = protoc.main(
        [
            "protoc",
            f"-I{PROTO.parent}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO),
        ]
    )
    assert code == 0, "protoc failed on original_piinguin.proto"
    sys.path.insert(0, str(out))
    try:
        return (
            importlib.import_module("original_piinguin_pb2"),
            importlib.import_module("original_piinguin_pb2_grpc"),
        )
    finally:
        sys.path.remove(str(out))


class OriginalClient:
    """Async wrappers around the generated blocking stub; each answer is a protobuf message."""

    def __init__(
        self, modules: tuple[ModuleType, ModuleType], port: int, token: str | None
    ) -> None:
        self.pb2, pb2_grpc = modules
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb2_grpc.PiinguinStub(self.channel)
        # How an original client adds a token: call metadata on every call.
        self.metadata = [("authorization", f"Bearer {token}")] if token else []

    def close(self) -> None:
        self.channel.close()

    # -- requests --------------------------------------------------------------------------

    def create_request(self, key: str, value: str) -> Any:
        record = self.pb2.PiiRecord(modifiedValue=key, originalValue=value)
        return self.pb2.CreatePiiRecordRequest(piiRecord=record)

    def read_request(self, key: str, basis: str | int | None = None) -> Any:
        request = self.pb2.ReadPiiRecordRequest(modifiedValue=key)
        if basis is not None:
            request.processingBasis = (
                self.pb2.ReadPiiRecordRequest.LawfulBasisForProcessing.Value(basis)
                if isinstance(basis, str)
                else basis
            )
        return request

    def delete_request(self, key: str) -> Any:
        return self.pb2.DeletePiiRecordRequest(modifiedValue=key)

    # -- unary ---------------------------------------------------------------------------------

    async def _unary(self, method: Callable[..., Any], request: Any) -> Any:
        return await asyncio.to_thread(method, request, metadata=self.metadata, timeout=TIMEOUT)

    async def create(self, key: str, value: str) -> Any:
        return await self._unary(self.stub.CreatePiiRecord, self.create_request(key, value))

    async def read(self, key: str, basis: str | int | None = None) -> Any:
        return await self._unary(self.stub.ReadPiiRecord, self.read_request(key, basis))

    async def delete(self, key: str) -> Any:
        return await self._unary(self.stub.DeletePiiRecord, self.delete_request(key))

    # -- bidirectional streams ---------------------------------------------------------------

    async def stream(self, method: Callable[..., Any], requests: Iterable[Any]) -> list[Any]:
        """All requests sent, then the half-close; every answer, in order."""
        return await asyncio.to_thread(
            lambda: list(method(iter(requests), metadata=self.metadata, timeout=TIMEOUT))
        )

    async def lockstep(self, method: Callable[..., Any], requests: Iterable[Any]) -> list[Any]:
        """Each request sent only once the previous one is answered: a server that waited
        for the end of the stream would never answer, and the call would time out."""
        answered: queue.Queue[None] = queue.Queue()

        def one_at_a_time() -> Iterator[Any]:
            for request in requests:
                yield request
                answered.get(timeout=TIMEOUT / 2)

        def run() -> list[Any]:
            responses = []
            for response in method(one_at_a_time(), metadata=self.metadata, timeout=TIMEOUT):
                responses.append(response)
                answered.put(None)
            return responses

        return await asyncio.to_thread(run)


#: The ``connect`` fixture: ``connect("reader")`` is a client with that principal's token.
Connect = Callable[..., OriginalClient]
