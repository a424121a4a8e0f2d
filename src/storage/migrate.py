"""Rewriting a whole vault in place, for operator commands (``piinguin-admin``):

- ``encrypt``: seal the plaintext items (the original piinguin's, or this project's from
  before encryption at rest) with the keyring's current key and a blind index;
- ``reencrypt``: open the sealed items under any other key version and seal them again
  under the current one (with ``every``, all sealed items: after a new blind index key).

Both walk the store page by page and replace each item only if it still rests as it was
read, so the server keeps serving throughout and its writes win. Both are idempotent (an
item already as wanted is counted and left alone) and resumable: each page ends with the
key to resume after, which the caller keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from storage.encrypted import EncryptedStorage
from storage.records import CHANGED, ItemFailed, Record, SealedRecord

Mode = Literal["encrypt", "reencrypt"]


@dataclass
class Tally:
    """What a run did so far, and where to resume."""

    scanned: int = 0
    rewritten: int = 0  # sealed now (encrypt) or sealed again (reencrypt)
    already: int = 0  # as wanted already: sealed (encrypt), under the current key (reencrypt)
    plaintext: int = 0  # reencrypt only: left in clear, for ``encrypt``
    changed: int = 0  # written by someone else while we looked: their write stands
    unreadable: int = 0  # damaged: cannot be opened, left as it is
    failed: int = 0  # not done this time (storage hiccup): run again
    resume_after: str | None = None
    done: bool = False


async def rewrite(
    store: EncryptedStorage,
    mode: Mode,
    *,
    resume_after: str | None = None,
    page_size: int = 500,
    every: bool = False,
    on_page: Callable[[Tally], Awaitable[None]] | None = None,
) -> Tally:
    """Walk ``store``'s backend from just after ``resume_after``; ``on_page`` hears the
    tally after each page (for progress and a checkpoint)."""
    await store.check()
    tally = Tally(resume_after=resume_after)
    while True:
        page = await store.backend.scan(tally.resume_after, page_size)
        expected, records = await _targets(store, mode, every, page.items, tally)
        if records:
            sealed = await (await store.envelope()).seal_many(records)
            outcomes = await store.backend.replace_sealed(list(zip(expected, sealed, strict=True)))
            for outcome in outcomes:
                tally.rewritten += outcome is None
                tally.changed += outcome is CHANGED
                tally.failed += isinstance(outcome, ItemFailed)
        tally.resume_after = page.resume_after
        tally.done = page.resume_after is None
        if on_page is not None:
            await on_page(tally)
        if tally.done:
            return tally


async def _targets(
    store: EncryptedStorage,
    mode: Mode,
    every: bool,
    items: Sequence[tuple[str, Record | SealedRecord | ItemFailed]],
    tally: Tally,
) -> tuple[list[Record | SealedRecord], list[Record]]:
    """The items of a page to rewrite, as they rest and opened; the others counted."""
    envelope = await store.envelope()
    current = store.keyring.current_version
    expected: list[Record | SealedRecord] = []
    records: list[Record] = []
    for _, item in items:
        tally.scanned += 1
        if isinstance(item, ItemFailed):
            tally.unreadable += item.damaged
            tally.failed += not item.damaged
        elif isinstance(item, Record):
            if mode == "reencrypt":
                tally.plaintext += 1
                continue
            expected.append(item)
            records.append(item)
        elif mode == "encrypt" or (item.sealed.key_version == current and not every):
            tally.already += 1
        else:
            record = await envelope.open(item)
            if isinstance(record, ItemFailed):
                tally.unreadable += 1
                continue
            expected.append(item)
            records.append(record)
    return expected, records
