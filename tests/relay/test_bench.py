"""The relay's batch benchmark in its quick mode: a few records, to keep it working."""

from __future__ import annotations

import asyncio

import pytest

from bench.relay_bench import measure

from .servers import Vault

pytestmark = pytest.mark.socket


async def test_the_batch_benchmark_runs_on_a_few_records(vault: Vault) -> None:
    figures = await asyncio.to_thread(measure, vault.target, 20)
    # 18 PII events of 3 pairs about 5 users, and 2 page views.
    assert (figures.records, figures.pairs, figures.reported) == (20, 54, 0)
    assert len(vault.storage.inner) == 15
    assert figures.cold_ms > 0
    assert figures.warm_ms > 0
    assert figures.traced_peak_mb > 0
