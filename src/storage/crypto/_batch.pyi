# The C sealer's interface (_batch.c); storage.crypto.envelope is its only caller.
from collections.abc import Callable
from typing import Any

def seal_many(
    records: list[Any],
    key: bytes,
    nonces: bytes,
    aad: bytes,
    version: str,
    wrapped: bytes,
    index_key: bytes,
    bits: int,
    normalise: Callable[[str], str],
    sealed_type: type[tuple[Any, ...]],
    record_type: type[tuple[Any, ...]],
    revision: str,
) -> list[Any]: ...
def open_run(
    outcomes: list[Any],
    start: int,
    key: bytes,
    version: str,
    wrapped: bytes,
    aad: bytes,
    sealed_record_type: type[tuple[Any, ...]],
    record_type: type[tuple[Any, ...]],
    tampered: object,
    not_text: object,
    opened: list[Any],
) -> int: ...
