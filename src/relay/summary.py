"""What one batch held and what became of it, as counters for one log line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from relay.batching import WritePlan
from relay.malformed import Malformed
from relay.parse import ParsedRecord


@dataclass(frozen=True, slots=True)
class Summary:
    """Counters of one batch. ``written``, ``failed`` and ``erased`` (unique keys; erased:
    not stored because their data subject was erased, which is done, not failed), and
    ``failures`` (failed keys by reason: a gRPC status name, or ``deadline``), are known
    only after the writes: the handler fills them in with ``dataclasses.replace``."""

    records: int
    pii_events: int
    other_events: int
    malformed: Mapping[Malformed, int]
    pairs: int
    unique_keys: int
    written: int = 0
    failed: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)
    erased: int = 0

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

    def __add__(self, other: Summary) -> Summary:
        """Two batches' counters together; ``unique_keys`` adds up each batch's own."""
        return Summary(
            records=self.records + other.records,
            pii_events=self.pii_events + other.pii_events,
            other_events=self.other_events + other.other_events,
            malformed=dict(Counter(self.malformed) + Counter(other.malformed)),
            pairs=self.pairs + other.pairs,
            unique_keys=self.unique_keys + other.unique_keys,
            written=self.written + other.written,
            failed=self.failed + other.failed,
            failures=dict(Counter(self.failures) + Counter(other.failures)),
            erased=self.erased + other.erased,
        )

    @property
    def malformed_count(self) -> int:
        return sum(self.malformed.values())

    def sentence(self) -> str:
        """For people: ``8 lines: 5 PII events, 1 other event, 2 malformed (not_utf8 1,
        wrong_field_count 1); 6 keys written, 0 failed`` (and ``, 2 erased`` when some keys
        were not stored because their data subject was erased)."""
        malformed = f"{self.malformed_count:,} malformed"
        if self.malformed:
            reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(self.malformed.items()))
            malformed += f" ({reasons})"
        return (
            f"{_count(self.records, 'line')}: {_count(self.pii_events, 'PII event')},"
            f" {_count(self.other_events, 'other event')}, {malformed};"
            f" {_count(self.written, 'key')} written, {self.failed:,} failed"
            + (f", {self.erased:,} erased" if self.erased else "")
        )

    def as_log(self) -> dict[str, int]:
        """Flat counters for a structured log line: one ``malformed_<reason>`` per reason
        seen, one ``failed_<reason>`` per reason keys failed for."""
        counters = {
            "records": self.records,
            "pii_events": self.pii_events,
            "other_events": self.other_events,
            "pairs": self.pairs,
            "unique_keys": self.unique_keys,
            "written": self.written,
            "failed": self.failed,
            "erased": self.erased,
        }
        counters.update({f"malformed_{reason}": n for reason, n in self.malformed.items()})
        counters.update({f"failed_{reason.lower()}": n for reason, n in self.failures.items()})
        return counters


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
