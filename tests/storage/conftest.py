"""The ``storage`` fixture: every contract test runs once per backend.

A backend joins by adding a factory to ``BACKENDS``: an async context manager that
yields a fresh, empty store for one test. ``*-encrypted*`` ones are the backend behind
``EncryptedStorage``, as the server runs it with a keyring (``-pure``: sealing in pure
Python, as where the C sealer is not built).

The DynamoDB backends run against moto in server mode, a fresh table per test, through
``FaultyClient``: ``dynamodb`` only records requests and checks them against DynamoDB's
limits afterwards; ``dynamodb-flaky`` also leaves 30% of every batch unprocessed and
fails every other request with throttling or a lost connection.

The ``retained`` fixture is the same backends built with options (a retention policy and
a clock the test moves: ``ManualClock``), for the tests of retention.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from storage import MemoryStorage, SubjectStorage
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.retention import Retention
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table
from tests.storage.dynamodb.faults import FaultyClient, connection_lost, storage_on, throttled

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


@contextlib.asynccontextmanager
async def memory_backend(
    _request: pytest.FixtureRequest, **options: Any
) -> AsyncIterator[SubjectStorage]:
    yield MemoryStorage(**options)


def encrypted_memory_backend(*, native: bool | None = None) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def backend(
        _request: pytest.FixtureRequest, **options: Any
    ) -> AsyncIterator[SubjectStorage]:
        keyring = Keyring(LocalKeys.ephemeral())
        yield EncryptedStorage(MemoryStorage(**options), keyring, vault="memory", native=native)

    return backend


def flaky(operation: str, index: int) -> Exception | None:
    return [None, throttled(operation), None, connection_lost()][index % 4]


def dynamodb_backend(*, encrypted: bool = False, **faults: Any) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def backend(
        request: pytest.FixtureRequest, **options: Any
    ) -> AsyncIterator[SubjectStorage]:
        endpoint = request.getfixturevalue("moto_endpoint")
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(dynamodb_client(endpoint))
            table_name = await stack.enter_async_context(fresh_table(client))
            faulty = FaultyClient(client, **faults)
            if not encrypted:
                yield storage_on(faulty, table_name, **options)
            else:
                key_table = await stack.enter_async_context(fresh_key_table(client))
                sealed = storage_on(faulty, table_name, key_table=key_table, **options)
                keyring = Keyring(LocalKeys.ephemeral())
                yield EncryptedStorage(sealed, keyring, vault=table_name)
        faulty.assert_within_limits()

    return backend


BACKENDS: dict[str, Callable[..., Any]] = {
    "memory": memory_backend,
    "memory-encrypted": encrypted_memory_backend(),
    # The pure-Python sealer, where the C one is built too: each must keep the contract.
    "memory-encrypted-pure": encrypted_memory_backend(native=False),
    "dynamodb": dynamodb_backend(),
    "dynamodb-flaky": dynamodb_backend(unprocessed_share=0.3, fault=flaky),
    "dynamodb-encrypted": dynamodb_backend(encrypted=True),
    "dynamodb-encrypted-flaky": dynamodb_backend(
        encrypted=True, unprocessed_share=0.3, fault=flaky
    ),
}


@pytest.fixture(params=sorted(BACKENDS))
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[SubjectStorage]:
    async with BACKENDS[request.param](request) as store:
        yield store


#: The backends as the server runs them with a keyring: they keep value digests and an index.
ENCRYPTED = sorted(name for name in BACKENDS if "encrypted" in name)


@pytest.fixture(params=ENCRYPTED)
async def encrypted(request: pytest.FixtureRequest) -> AsyncIterator[SubjectStorage]:
    async with BACKENDS[request.param](request) as store:
        yield store


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Retained(NamedTuple):
    storage: SubjectStorage
    clock: ManualClock


#: Each backend's retention: the field name ``ip`` lives one second, every other a day.
RETENTION = Retention(timedelta(days=1), {"ip": timedelta(seconds=1)})


@pytest.fixture(params=sorted(BACKENDS))
async def retained(request: pytest.FixtureRequest) -> AsyncIterator[Retained]:
    """Each backend with ``RETENTION`` and a ``ManualClock``."""
    clock = ManualClock(datetime(2099, 3, 4, 5, 6, 7, 250000, tzinfo=UTC))
    async with BACKENDS[request.param](request, clock=clock, retention=RETENTION) as store:
        yield Retained(store, clock)


@pytest.fixture
async def dynamodb(moto_endpoint: str) -> AsyncIterator[DynamoDBClient]:
    """A real client of the session's moto server."""
    async with dynamodb_client(moto_endpoint) as client:
        yield client


@pytest.fixture
async def table(dynamodb: DynamoDBClient) -> AsyncIterator[str]:
    """The name of a fresh, empty Piinguin table on ``dynamodb``."""
    async with fresh_table(dynamodb) as table_name:
        yield table_name
