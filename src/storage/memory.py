"""In-memory storage for development and tests; behaves like the real backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from storage.frozen import builder
from storage.records import ReadOutcome, Record, WriteOutcome

_record = builder(Record)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryStorage:
    """A dict behind the ``Storage`` interface.

    Each call completes without awaiting, so it is atomic with respect to other calls on
    the same event loop. Records are frozen, so what goes in and out cannot be changed
    behind the store's back.
    """

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._records: dict[str, Record] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._records)

    async def check(self) -> None:
        return None

    async def put_many(self, records: Sequence[Record]) -> list[WriteOutcome]:
        now = self._clock()
        for record in records:
            previous = self._records.get(record.modified_value)
            created_at = previous.created_at if previous is not None else now
            # Built directly: dataclasses.replace() costs several times as much per record.
            self._records[record.modified_value] = _record(
                record.modified_value,
                record.original_value,
                record.field_name,
                record.json_path,
                record.schema,
                record.hash_function,
                record.app_id,
                record.collector_tstamp,
                created_at,
                now,
            )
        return [None] * len(records)

    async def get_many(self, keys: Sequence[str]) -> list[ReadOutcome]:
        return [self._records.get(key) for key in keys]

    async def delete_many(self, keys: Sequence[str]) -> list[WriteOutcome]:
        for key in keys:
            self._records.pop(key, None)
        return [None] * len(keys)
