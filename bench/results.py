"""What a benchmark row reports, how rounds become one figure, and the printed table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

NOT_AVAILABLE = "not available"


@dataclass(frozen=True, slots=True)
class Goal:
    """``value >= target`` (``at_least``) or ``value <= target``; ``text`` as printed."""

    text: str
    target: float
    at_least: bool = True

    def met(self, value: float) -> bool:
        return value >= self.target if self.at_least else value <= self.target


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table.

    ``value`` is the measured figure (median over rounds) in ``unit``; ``reference`` the
    same for what it is compared with; ``ratio`` the median of the per-round ratios, which
    the goal applies to unless ``goal_on_value``. A row whose feature is missing has status
    ``not available`` and no figures.
    """

    name: str
    figure: str
    unit: str
    compared_with: str
    goal: Goal | None
    value: float | None = None
    reference: float | None = None
    ratio: float | None = None
    goal_on_value: bool = False
    rounds: Sequence[tuple[float, float | None]] = ()
    status: str = "ok"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        judged = self.value if self.goal_on_value else self.ratio
        if self.goal is None or judged is None:
            return None
        return self.goal.met(judged)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["goal"] = self.goal.text if self.goal else None
        data["passed"] = self.passed
        data["rounds"] = [list(pair) for pair in self.rounds]
        return data


def not_available(name: str, figure: str, compared_with: str, goal: Goal, why: str) -> Row:
    return Row(name, figure, "", compared_with, goal, status=NOT_AVAILABLE, notes=why)


def paired(  # noqa: PLR0917  (a row's fields, in the order the table shows them)
    name: str,
    figure: str,
    unit: str,
    compared_with: str,
    goal: Goal | None,
    rounds: Sequence[tuple[float, float]],
    notes: str = "",
    extra: dict[str, Any] | None = None,
    *,
    goal_on_value: bool = False,
) -> Row:
    """A row from interleaved rounds of (measured, reference): medians and the median
    of the per-round ratios, so that a slow minute on the machine hits both sides. With
    no ``goal`` the row is informational: it passes or fails nothing."""
    if not rounds or any(not (b > 0 and math.isfinite(a)) for a, b in rounds):
        raise ValueError(f"{name}: every round needs a finite figure and a positive reference")
    return Row(
        name,
        figure,
        unit,
        compared_with,
        goal,
        value=statistics.median(a for a, _ in rounds),
        reference=statistics.median(b for _, b in rounds),
        ratio=statistics.median(a / b for a, b in rounds),
        goal_on_value=goal_on_value,
        rounds=[(a, b) for a, b in rounds],
        notes=notes,
        extra=extra or {},
    )


def interleave(
    rounds: int, measured: Callable[[], float], reference: Callable[[], float]
) -> list[tuple[float, float]]:
    """A, B, A, B...: each round measures both sides back to back."""
    return [(measured(), reference()) for _ in range(rounds)]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _verdict(row: Row) -> str:
    if row.status != "ok":
        return row.status
    return {True: "PASS", False: "FAIL", None: "-"}[row.passed]


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table, as the README publishes it."""
    header = ("figure", "Piinguin", "compared with", "reference", "ratio", "goal", "")
    lines = [header]
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(
            (
                row.figure,
                _number(row.value, row.unit),
                row.compared_with,
                _number(row.reference, row.unit),
                ratio,
                row.goal.text if row.goal else "-",
                _verdict(row),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [render(lines[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [render(line) for line in lines[1:]]
    notes = [f"- {row.figure}: {row.notes}" for row in rows if row.notes]
    return "\n".join([*out, *(["", *notes] if notes else [])])
