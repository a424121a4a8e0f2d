"""Positional constructors for frozen, slotted dataclasses, for per-record paths.

A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__``, looked up
afresh for every field: a ten-field ``Record`` costs about a microsecond, and a bulk write
builds two per record. Setting the slots through their descriptors, as that
``__setattr__`` does in the end, costs half. The instance is the same: same type, same
field values, still frozen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A function taking every field of ``cls`` positionally, in declaration order, and
    returning the instance ``cls(...)`` would. Only for frozen, slotted dataclasses whose
    ``__init__`` does nothing else (no ``__post_init__``, no ``InitVar``)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    params: Any = getattr(cls, "__dataclass_params__")  # noqa: B009  (not in typeshed)
    names = [field.name for field in dataclasses.fields(cls)]
    code = cls.__init__.__code__
    if (
        not params.frozen
        or tuple(cls.__dict__.get("__slots__", ())) != tuple(names)
        or hasattr(cls, "__post_init__")
        or code.co_varnames[1 : code.co_argcount] != tuple(names)
        or code.co_kwonlyargcount
    ):
        raise TypeError(f"{cls.__name__} is not a plain frozen, slotted dataclass")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = [f"def build({', '.join(names)}):", "    o = new(cls)"]
    for i, name in enumerate(names):
        namespace[f"set_{i}"] = cls.__dict__[name].__set__
        lines.append(f"    set_{i}(o, {name})")
    lines.append("    return o")
    exec("\n".join(lines) + "\n", namespace)  # noqa: S102  (source built from field names only)
    build: Callable[..., T] = namespace["build"]
    return build
