"""The ``storage`` fixture: every contract test runs once per backend.

A backend joins by adding a factory to ``BACKENDS``: an async context manager that
yields a fresh, empty store for one test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from storage import MemoryStorage, Storage


@contextlib.asynccontextmanager
async def memory_backend(_request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    yield MemoryStorage()


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Any]] = {
    "memory": memory_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    async with BACKENDS[request.param](request) as store:
        yield store
