"""DynamoDB behind storage's interfaces: records and audit events, each in its own table.

``open_client`` and ``ensure_tables`` are for the entry point; the stores take the open
client and never manage it.
"""

from storage.dynamodb.audit import DynamoDBAuditStore
from storage.dynamodb.audit_table import create_audit_table
from storage.dynamodb.batch import BatchCall, BatchObserver, BatchPolicy
from storage.dynamodb.connect import ensure_tables, open_client
from storage.dynamodb.errors import RETRY_REASONS, RetryReason, TablesMissing
from storage.dynamodb.records import (
    DynamoDBStorage,
    add_blind_index,
    create_key_table,
    create_table,
)

__all__ = [
    "RETRY_REASONS",
    "BatchCall",
    "BatchObserver",
    "BatchPolicy",
    "DynamoDBAuditStore",
    "DynamoDBStorage",
    "RetryReason",
    "TablesMissing",
    "add_blind_index",
    "create_audit_table",
    "create_key_table",
    "create_table",
    "ensure_tables",
    "open_client",
]
