"""What the vault accepts in a record: one definition for every part that must agree.

The server refuses anything else with INVALID_ARGUMENT; the relay skips, as malformed,
pairs the server would always refuse (redelivering them would stall a shard); the CLI
refuses keys before it sends them. None of them may import the others, so the rules
live here, in a module that imports nothing of Piinguin.

Messages name fields and limits, never values: a key is a pseudonym, but an original
value sent in the wrong field would be personal data.
"""

from __future__ import annotations

import re
from typing import Protocol

#: A key is DynamoDB's partition key: at most 2,048 bytes of UTF-8 (a test keeps this
#: within ``storage.MAX_KEY_BYTES``, the backends' own limit).
MAX_KEY_BYTES = 2048
#: Personal values are short (emails, addresses, ids); the cap keeps every record far
#: below DynamoDB's 400 KB item limit, which would otherwise fail a whole batch.
MAX_ORIGINAL_BYTES = 64 * 1024
MAX_PROVENANCE_CHARS = 2048
MAX_PURPOSE_CHARS = 1024
PROVENANCE = ("field_name", "json_path", "schema", "hash_function", "app_id")

#: Control characters (C0, DEL, C1) and the two Unicode line separators. Keys travel in
#: line- and tab-separated text (the CLI's bulk input and output, log lines): a key
#: holding one could not be written or read back as itself.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class RecordFields(Protocol):
    """The fields of a record that limits apply to (``PiiRecord`` and the relay's
    ``Pair`` both have them)."""

    @property
    def modified_value(self) -> str: ...
    @property
    def original_value(self) -> str: ...
    @property
    def field_name(self) -> str: ...
    @property
    def json_path(self) -> str: ...
    @property
    def schema(self) -> str: ...
    @property
    def hash_function(self) -> str: ...
    @property
    def app_id(self) -> str: ...


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a record's key, or None."""
    if not key:
        return "modified_value is empty"
    # Cheap bound first: a str never has more UTF-8 bytes than 4 per character.
    if len(key) * 4 > MAX_KEY_BYTES and len(key.encode()) > MAX_KEY_BYTES:
        return f"modified_value is longer than {MAX_KEY_BYTES} bytes"
    return control_character_problem(key)


def control_character_problem(key: str) -> str | None:
    """Why ``key`` cannot be a key for the control characters it holds, or None."""
    # isprintable() is quick and true for nearly every key; it is also false for some
    # characters that are allowed (non-breaking spaces, unassigned ones): the pattern decides.
    if key.isprintable():
        return None
    control = _CONTROL.search(key)
    if control is None:
        return None
    return f"modified_value holds a control character (U+{ord(control[0]):04X})"


def record_problem(record: RecordFields) -> str | None:
    """Why ``record`` cannot be stored, or None. Runs for every record of a bulk write."""
    key = record.modified_value
    # key_problem's common case inlined: a short printable key.
    if not key or len(key) * 4 > MAX_KEY_BYTES or not key.isprintable():
        problem = key_problem(key)
        if problem is not None:
            return problem
    value = record.original_value
    if not value:
        return "original_value is empty"
    if len(value) * 4 > MAX_ORIGINAL_BYTES and len(value.encode()) > MAX_ORIGINAL_BYTES:
        return f"original_value is longer than {MAX_ORIGINAL_BYTES} bytes"
    # One cheap test for the common case (none is longer if all together are not); the
    # loop only names the culprit.
    total = (
        len(record.field_name)
        + len(record.json_path)
        + len(record.schema)
        + len(record.hash_function)
        + len(record.app_id)
    )
    if total > MAX_PROVENANCE_CHARS:
        for name in PROVENANCE:
            if len(getattr(record, name)) > MAX_PROVENANCE_CHARS:
                return f"{name} is longer than {MAX_PROVENANCE_CHARS} characters"
    return None
