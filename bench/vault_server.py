"""A Piinguin server built in-process, for what ``piinguin-server`` rightly does not offer:

- ``--audit none``: a no-op audit store, so the audit row compares the same code path with
  and without storing audit events (no user-facing flag turns audit off);
- ``--dynamodb URL``: DynamoDB storage (moto) whose requests are counted through botocore's
  ``before-call`` events and written, by operation, to ``--counts`` on exit.

Otherwise it is what ``piinguin-server`` runs: the same ``PiinguinServer``, logging
configuration, uvloop, and drain on SIGTERM::

    python -m bench.vault_server --port P --policy FILE [--audit none]
        [--dynamodb URL --counts FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aioboto3
import uvloop

from piinguin.access.auth import Authenticator
from piinguin.logs import configure_logging
from piinguin.server import PiinguinServer
from storage import AuditStore, MemoryStorage, SubjectStorage
from storage.audit import AuditEvent, AuditPage, AuditQuery
from storage.dynamodb import DynamoDBStorage, create_table
from storage.memory import MemoryAuditStore

TABLE = "piinguin-bench"


class NoAuditStore:
    """Keeps nothing: the audit path runs up to the store, which returns at once."""

    async def check(self) -> None:
        return None

    async def append(self, event: AuditEvent) -> None:
        return None

    async def query(self, query: AuditQuery) -> AuditPage:
        return AuditPage()


@contextlib.asynccontextmanager
async def dynamodb(endpoint: str, counts: Counter[str]) -> AsyncIterator[SubjectStorage]:
    session = aioboto3.Session(
        region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    async with session.client("dynamodb", endpoint_url=endpoint) as client:
        await create_table(client, TABLE)

        def count(model: Any, **_: Any) -> None:
            counts[model.name] += 1

        client.meta.events.register("before-call.dynamodb", count)
        yield DynamoDBStorage(client, TABLE)


async def serve(args: argparse.Namespace) -> Counter[str]:
    """Serve until SIGTERM; the DynamoDB requests made, by operation."""
    audit: AuditStore = NoAuditStore() if args.audit == "none" else MemoryAuditStore()
    counts: Counter[str] = Counter()
    async with contextlib.AsyncExitStack() as stack:
        storage: SubjectStorage = (
            await stack.enter_async_context(dynamodb(args.dynamodb, counts))
            if args.dynamodb
            else MemoryStorage()
        )
        server = await stack.enter_async_context(
            PiinguinServer(
                storage,
                auth=Authenticator.from_file(Path(args.policy)),
                audit=audit,
                max_bulk_items=1000,
                max_message_bytes=4 * 1024 * 1024,
                port=args.port,
                grace_period=5.0,
            )
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await server.wait_ready()
        await stop.wait()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.vault_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--audit", choices=("memory", "none"), default="memory")
    parser.add_argument("--dynamodb", metavar="URL", help="DynamoDB (moto) endpoint")
    parser.add_argument("--counts", help="where to write DynamoDB requests by operation")
    args = parser.parse_args()
    configure_logging("info", "json")
    uvloop.install()
    counts = asyncio.run(serve(args))
    if args.counts:
        Path(args.counts).write_text(json.dumps(counts))


if __name__ == "__main__":
    main()
