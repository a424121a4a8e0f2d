"""A server with ``legacy_api`` and a policy with tokens, on each storage backend, and
clients generated from the original proto, one per principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import ModuleType

import pytest

from piinguin.access.auth import Authenticator
from piinguin.server import PiinguinServer
from storage import MemoryStorage, Storage
from storage.audit import AuditEvent, AuditQuery
from storage.dynamodb import DynamoDBStorage
from storage.memory import MemoryAuditStore
from tests.conftest import ServerFactory
from tests.dynamodb_fixtures import dynamodb_client, fresh_table

from .original_client import Connect, OriginalClient, generate
from .principals import POLICY, TOKENS


@pytest.fixture(scope="session")
def original_modules(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    return generate(tmp_path_factory.mktemp("original"))


@pytest.fixture(params=["memory", "dynamodb"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    async with dynamodb_client(endpoint) as client, fresh_table(client) as table_name:
        yield DynamoDBStorage(client, table_name)


@pytest.fixture
def audit() -> MemoryAuditStore:
    return MemoryAuditStore()


@pytest.fixture
async def server(
    start_server: ServerFactory, storage: Storage, audit: MemoryAuditStore
) -> AsyncIterator[PiinguinServer]:
    async with start_server(
        storage, auth=Authenticator(POLICY), audit=audit, legacy_api=True
    ) as running:
        yield running


@pytest.fixture
def connect(
    server: PiinguinServer, original_modules: tuple[ModuleType, ModuleType]
) -> Iterator[Connect]:
    """``connect("reader")``: a client with that principal's token; ``connect(None)``, or
    ``connect(token="...")``, with none or another."""
    clients: list[OriginalClient] = []

    def connect(principal: str | None, *, token: str | None = None) -> OriginalClient:
        client = OriginalClient(
            original_modules, server.port, token or (TOKENS[principal] if principal else None)
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def events_of(audit: MemoryAuditStore) -> Callable[[str], Awaitable[list[AuditEvent]]]:
    """The audit events of one principal, oldest first."""

    async def events_of(principal: str) -> list[AuditEvent]:
        page = await audit.query(AuditQuery(principal=principal))
        return list(page.events)

    return events_of
