"""Audit events and audit tables for the audit store tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage import AuditStore
from storage.audit import AuditEvent, AuditQuery, KeyOutcome
from storage.dynamodb import BatchPolicy, DynamoDBAuditStore, create_audit_table
from tests.dynamodb_fixtures import fresh_table_name
from tests.storage.dynamodb.faults import FAST_RETRIES

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def make_event(
    event_id: str,
    time: datetime = T0,
    *,
    principal: str = "analyst",
    keys: dict[str, int] | list[tuple[str, int]] | None = None,
    **fields: object,
) -> AuditEvent:
    outcomes = list(keys.items()) if isinstance(keys, dict) else (keys or [])
    return AuditEvent(
        event_id=event_id,
        time=time,
        principal=principal,
        operation=str(fields.pop("operation", "read")),
        method=str(fields.pop("method", "/piinguin.v1.Piinguin/ReadPiiRecords")),
        code=0,
        keys=tuple(KeyOutcome(key, code) for key, code in outcomes),
        **fields,  # type: ignore[arg-type]
    )


async def every_page(store: AuditStore, query: AuditQuery) -> list[list[AuditEvent]]:
    """Each page of ``query``'s answer in turn, following the page tokens to the end."""
    pages = []
    token = ""
    for _ in range(100):
        page = await store.query(query._replace(page_token=token))
        pages.append(list(page.events))
        token = page.next_page_token
        if not token:
            return pages
    raise AssertionError("more than 100 pages")


@contextlib.asynccontextmanager
async def fresh_audit_table(client: DynamoDBClient) -> AsyncIterator[str]:
    """A new, empty audit table, made with ``create_audit_table`` and deleted afterwards."""
    table_name = fresh_table_name()
    await create_audit_table(client, table_name)
    try:
        yield table_name
    finally:
        await client.delete_table(TableName=table_name)


def audit_store_on(
    client: DynamoDBClient, table_name: str, *, policy: BatchPolicy = FAST_RETRIES
) -> DynamoDBAuditStore:
    return DynamoDBAuditStore(client, table_name, policy=policy)
