"""A batch's writes and its answer to Lambda, as pure functions of the parsed records.

Lambda redelivers every record from the lowest sequence number reported in
``batchItemFailures``; processing is idempotent (a write of a key replaces it), so
reporting a record again is always safe, and forgetting one loses its pairs.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from relay.extract import Pair
from relay.parse import ParsedRecord


@dataclass(frozen=True, slots=True)
class WritePlan:
    """The writes a batch needs: one pair per key.

    ``pairs`` come in order of each key's first appearance; a key carried more than
    once is written with its last occurrence in Kinesis order. ``carriers`` gives, for
    each key, the sequence numbers of the records that carried it, in Kinesis order: the
    records a failed write of that key holds back.
    """

    pairs: tuple[Pair, ...]
    carriers: Mapping[str, tuple[str, ...]]

    def requests(self, size: int) -> list[tuple[Pair, ...]]:
        """The pairs in bulk requests of at most ``size``."""
        if size < 1:
            raise ValueError(f"a bulk request holds at least one pair, not {size}")
        pairs = self.pairs
        return [pairs[start : start + size] for start in range(0, len(pairs), size)]


def plan_writes(records: Iterable[ParsedRecord]) -> WritePlan:
    """De-duplicate the pairs of a batch's records by ``modified_value``."""
    latest: dict[str, Pair] = {}
    carriers: dict[str, list[str]] = {}
    for record in records:
        sequence_number = record.sequence_number
        for pair in record.pairs:
            key = pair.modified_value
            latest[key] = pair
            carried_by = carriers.setdefault(key, [])
            if not carried_by or carried_by[-1] != sequence_number:  # once per record
                carried_by.append(sequence_number)
    return WritePlan(
        tuple(latest.values()),
        {key: tuple(numbers) for key, numbers in carriers.items()},
    )


def batch_item_failures(
    records: Sequence[ParsedRecord],
    settled: Container[str],
    *,
    fail_malformed: bool = False,
) -> list[dict[str, str]]:
    """The ``batchItemFailures`` of Lambda's partial batch response, in input order.

    A record with pairs is done when every one of its keys is in ``settled`` (the keys
    the server confirmed written, or refused for good); any other key, failed or never
    sent, reports the record. Skipped records are done. Malformed records are done too,
    since a retry cannot mend them, unless ``fail_malformed`` asks to report them (and so
    to stop the shard on them); a record without a sequence number cannot be reported at
    all.
    An empty list tells Lambda the whole batch succeeded.
    """
    failures = []
    for record in records:
        if record.pairs:
            failed = any(pair.modified_value not in settled for pair in record.pairs)
        else:
            failed = fail_malformed and record.malformed is not None
        if failed and record.sequence_number:
            failures.append({"itemIdentifier": record.sequence_number})
    return failures
