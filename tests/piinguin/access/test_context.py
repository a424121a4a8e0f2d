"""The call context: reading it never changes it."""

from __future__ import annotations

import contextvars

from piinguin.access.context import count_items, current_call


def test_reading_the_call_outside_a_call_leaves_the_context_unchanged() -> None:
    context = contextvars.Context()

    first = context.run(current_call)
    context.run(count_items, 5)
    second = context.run(current_call)

    assert len(context) == 0  # nothing was set in it
    assert first is not second
    assert first.request_id != second.request_id
    assert (first.caller, second.items) == (None, 0)
