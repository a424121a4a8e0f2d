"""How long records are kept: a lifetime per field name, and a default.

A backend given a ``Retention`` stamps each record it writes with ``expires_at``, the
write's time plus the lifetime of the record's ``field_name``, so writing the same pair
again extends its life. A record past its expiry reads as not stored at once, whenever
the backend gets round to removing it (DynamoDB's TTL, the memory backend's pruning).

The policy comes from a TOML file (``piinguin-server --retention``)::

    default = "730d"
    [fields]
    user_ipaddress = "30d"

Durations are a whole number followed by ``s``, ``m``, ``h`` or ``d``. Without ``default``,
records of the fields not named never expire; without a policy, none does.

A policy can be replaced in place (``adopt``, on ``SIGHUP``): the backends holding it
stamp writes from then on with the new lifetimes. Records already stored keep the expiry
they were written with until they are written again.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_SECOND = timedelta(seconds=1)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class RetentionError(ValueError):
    """A retention policy that cannot be used; the message names the source and the key."""


def parse_duration(text: str) -> timedelta:
    """``"30d"`` as a ``timedelta``; raises ``ValueError`` for anything else, or for zero."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration: a whole number followed by s, m, h or d")
    lifetime = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not lifetime:
        raise ValueError(f"{text!r} is not a lifetime: it must be longer than zero")
    return lifetime


@dataclass(slots=True)
class Retention:
    """Each field name's lifetime (``fields``), and that of every other (``default``;
    ``None``: forever). Changed only as a whole, by ``adopt``."""

    default: timedelta | None = None
    fields: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = MappingProxyType(dict(self.fields))

    def adopt(self, other: Retention) -> None:
        """Take ``other``'s lifetimes. Both attributes change between two awaits of the
        event loop, so no write sees half of each policy."""
        self.default, self.fields = other.default, other.fields

    def expires_at(self, field_name: str, now: datetime) -> datetime | None:
        """When a record of ``field_name`` written ``now`` expires: rounded up to a whole
        second, as DynamoDB's TTL attribute holds it, so every backend agrees."""
        lifetime = self.fields.get(field_name, self.default)
        if lifetime is None:
            return None
        moment = now + lifetime
        if moment.microsecond:
            moment = moment.replace(microsecond=0) + _SECOND
        return moment

    @classmethod
    def from_toml(cls, text: str, *, source: str) -> Retention:
        """The policy written in ``text``; a ``RetentionError`` names ``source`` (the
        file) and the key at fault."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RetentionError(f"{source}: not TOML: {exc}") from exc
        unknown = sorted(set(document) - {"default", "fields"})
        if unknown:
            raise RetentionError(f"{source}: unknown key {unknown[0]!r}: expected default, fields")
        default = None
        if "default" in document:
            default = _lifetime(source, "default", document["default"])
        fields = document.get("fields", {})
        if not isinstance(fields, dict):
            raise RetentionError(f"{source}: fields: must be a table of field name = duration")
        return cls(
            default,
            {name: _lifetime(source, f"fields.{name}", value) for name, value in fields.items()},
        )


def _lifetime(source: str, key: str, value: object) -> timedelta:
    if not isinstance(value, str):
        raise RetentionError(f'{source}: {key}: must be a string such as "30d"')
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise RetentionError(f"{source}: {key}: {exc}") from exc


def expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now
