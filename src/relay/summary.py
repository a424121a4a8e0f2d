"""What one batch held and what became of it, as counters for one log line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from relay.batching import WritePlan
from relay.malformed import Malformed
from relay.parse import ParsedRecord


@dataclass(frozen=True, slots=True)
class Summary:
    """Counters of one batch. ``written`` and ``failed`` (unique keys) are known only
    after the writes: the handler fills them in with ``dataclasses.replace``."""

    records: int
    pii_events: int
    other_events: int
    malformed: Mapping[Malformed, int]
    pairs: int
    unique_keys: int
    written: int = 0
    failed: int = 0

    @classmethod
    def of(cls, records: Sequence[ParsedRecord], plan: WritePlan) -> Summary:
        malformed = Counter(r.malformed for r in records if r.malformed is not None)
        return cls(
            records=len(records),
            pii_events=sum(1 for r in records if r.pairs),
            other_events=sum(1 for r in records if r.skipped),
            malformed=dict(malformed),
            pairs=sum(len(r.pairs) for r in records),
            unique_keys=len(plan.pairs),
        )

    def as_log(self) -> dict[str, int]:
        """Flat counters for a structured log line: one ``malformed_<reason>`` per reason
        seen."""
        counters = {
            "records": self.records,
            "pii_events": self.pii_events,
            "other_events": self.other_events,
            "pairs": self.pairs,
            "unique_keys": self.unique_keys,
            "written": self.written,
            "failed": self.failed,
        }
        counters.update({f"malformed_{reason}": n for reason, n in self.malformed.items()})
        return counters
