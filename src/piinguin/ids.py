"""Identifiers for requests and audit events: unique across processes, cheap to make.

A random prefix per process and a counter: ``uuid4()`` costs a syscall and an object per
call, a measurable share of a unary read that makes two of them.
"""

from __future__ import annotations

import itertools
import os

_PREFIX = os.urandom(8).hex()
_COUNTER = itertools.count()


def new_id() -> str:
    return f"{_PREFIX}-{next(_COUNTER):012x}"
