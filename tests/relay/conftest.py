"""Fixtures for the relay's tests: a server with a storage double, relays aimed at it, and
AWS (the session's moto server) for secrets, Kinesis and SQS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from relay import handler as lambda_handler
from relay.config import RelayConfig
from relay.handler import Relay
from relay.metrics import EmbeddedMetrics
from tests.doubles import FaultyStorage

from .aws import Aws, environment
from .servers import RelayFactory, Vault, serving


@pytest.fixture
async def vault() -> AsyncIterator[Vault]:
    async with serving(FaultyStorage()) as vault:
        yield vault


@pytest.fixture
async def make_relay() -> AsyncIterator[RelayFactory]:
    """Relays built from settings (``target`` required), closed after the test."""
    relays: list[Relay] = []

    def make(
        *, safety_margin: float = 0.0, metrics: EmbeddedMetrics | None = None, **settings: Any
    ) -> Relay:
        config = RelayConfig(**{"timeout_sec": 5.0, **settings})
        relay = Relay(config, safety_margin=safety_margin, metrics=metrics)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        await asyncio.to_thread(relay.close)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """moto, where the standard AWS variables of this process now point."""
    for name, value in environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return Aws(moto_endpoint)


@pytest.fixture
def lambda_process() -> Iterator[None]:
    """``relay.handler.handler`` as in a fresh Lambda process: no relay yet (its
    ``PIINGUIN_*`` variables are the test's to set), and the relay closed afterwards."""
    lambda_handler.close()
    yield
    lambda_handler.close()
