"""Wire work done by protobuf's upb, for betterproto2 messages.

betterproto2 keeps handlers simple (typed dataclasses), but its pure-Python wire code costs
tens of microseconds a record; upb parses and serialises the same bytes in well under one.
``to_wire`` and ``from_wire`` convert between a betterproto2 message and upb's message of
the same descriptor, field by field, with converters built once per message type from the
descriptor. ``google.protobuf.Timestamp`` fields are ``datetime`` on the betterproto2 side,
as betterproto2 unwraps them; conversions match betterproto2's own to the microsecond.

The bytes are the same as betterproto2's own serialisation (tests compare them), so this is
a drop-in behind grpclib's codec seam.
"""

from __future__ import annotations

import dataclasses
import keyword
import linecache
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, cast

import betterproto2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

_TIMESTAMP = "google.protobuf.Timestamp"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Reader = Callable[[Any], Any]  # upb message -> betterproto2 message
Writer = Callable[[Any, Any], None]  # (betterproto2 message, empty upb message) -> None


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


@cache
def upb_class(descriptor: Descriptor) -> Any:
    return message_factory.GetMessageClass(descriptor)


def _datetime(timestamp: Any) -> datetime:
    return _moment(timestamp.seconds, timestamp.nanos)


@lru_cache(maxsize=4096)
def _moment(seconds: int, nanos: int) -> datetime:
    # Cached for the same reason as _seconds_nanos: a batch's records share moments.
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


@lru_cache(maxsize=4096)
def _seconds_nanos(moment: datetime) -> tuple[int, int]:
    # Cached: the records of one write share their timestamps, so a bulk read of them
    # converts each distinct moment once.
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone aware")
    offset = moment - _EPOCH
    micros = (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds
    seconds, micros = divmod(micros, 1_000_000)
    return seconds, micros * 1000


def _set_timestamp(moment: datetime, target: Any) -> None:
    target.seconds, target.nanos = _seconds_nanos(moment)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_CACHED_MOMENTS = 4096


@cache
def _timestamp_field(number: int) -> tuple[dict[datetime, bytes], Callable[[datetime], bytes]]:
    """A cache of field ``number`` holding a moment, as serialised bytes (tag, length,
    Timestamp), and the function that fills it. A writer merges a message's timestamps
    in one ``MergeFromString``: a fifth of the cost of filling each submessage through
    upb's Python objects, and the records of one write share their moments."""
    moments: dict[datetime, bytes] = {}
    tag = _varint(number << 3 | 2)
    timestamp = upb_class(Timestamp.DESCRIPTOR)

    def field_bytes(moment: datetime) -> bytes:
        seconds, nanos = _seconds_nanos(moment)
        body = bytes(timestamp(seconds=seconds, nanos=nanos).SerializeToString())
        if len(moments) >= _CACHED_MOMENTS:
            moments.clear()
        encoded: bytes = tag + _varint(len(body)) + body
        moments[moment] = encoded
        return encoded

    return moments, field_bytes


def _attribute(cls: Any, field: FieldDescriptor) -> str:
    """The betterproto2 attribute of a field: snake_case even where the proto's name is
    not (the original piinguin protocol's ``modifiedValue``)."""
    return str(cls._betterproto.field_name_by_number[field.number])


def _get(name: str) -> str:
    return f"getattr(u, {name!r})" if keyword.iskeyword(name) else f"u.{name}"


def _compile(
    cls: Any, kind: str, parameters: str, body: list[str], namespace: dict[str, Any]
) -> Any:
    """Define one generated converter, ``{kind}_{cls.__name__}``, from its body's lines.
    Generated straight-line code, as ``dataclasses`` and ``namedtuple`` do, costs a
    fraction of a loop over per-field closures: this runs for every record of every bulk
    call. Its source goes into ``linecache`` under a name of its own, as attrs does, so
    tracebacks, ``inspect`` and profiles show it instead of ``<string>``."""
    name = f"{kind}_{cls.__name__}"
    # The descriptor's full name: two protocols each have a PiiRecord.
    filename = f"<piinguin.wire {kind} {cls.DESCRIPTOR.full_name}>"
    source = "\n".join([f"def {name}({parameters}):", *body]) + "\n"
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102  (built from descriptor names only)
    function = namespace[name]
    function.__module__ = __name__
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return function


@cache
def reader(cls: Any) -> Reader:
    """A function building a ``cls`` from an upb message of its descriptor."""
    fields = cls._betterproto.cls_by_field
    # HasField unbound: a bound method per call costs a third of the call.
    has = upb_class(cls.DESCRIPTOR).HasField
    namespace: dict[str, Any] = {"cls": cls, "_datetime": _datetime, "_moment": _moment, "has": has}
    lines: list[str] = []
    values: dict[str, str] = {}
    for i, field in enumerate(cls.DESCRIPTOR.fields):
        name, attribute = field.name, _attribute(cls, field)
        get = _get(name)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            timestamp = field.message_type.full_name == _TIMESTAMP
            if timestamp and not _repeated(field):
                lines += [
                    f"    if has(u, {name!r}):",
                    f"        s = {get}",
                    f"        v_{i} = _moment(s.seconds, s.nanos)",
                    "    else:",
                    f"        v_{i} = None",
                ]
                values[attribute] = f"v_{i}"
                continue
            if timestamp:
                convert = "_datetime"
            else:
                convert = f"read_{i}"
                namespace[convert] = reader(fields[attribute])
            value = (
                f"[{convert}(v) for v in {get}]"
                if _repeated(field)
                else f"({convert}({get}) if has(u, {name!r}) else None)"
            )
        elif field.type == FieldDescriptor.TYPE_ENUM:
            namespace[f"enum_{i}"] = fields[attribute]
            value = f"[enum_{i}(v) for v in {get}]" if _repeated(field) else f"enum_{i}({get})"
        else:
            value = f"list({get})" if _repeated(field) else get
        values[attribute] = value
    # Positional, in the dataclass's order: half the cost of keyword arguments.
    order = [field.name for field in dataclasses.fields(cls) if field.init]
    if sorted(order) != sorted(values):
        raise TypeError(f"{cls.__name__}: its fields are not its descriptor's")
    lines.append(f"    return cls({', '.join(values[name] for name in order)})")
    return cast(Reader, _compile(cls, "read", "u", lines, namespace))


@cache
def writer(cls: Any) -> Writer:
    """A function filling an empty upb message from a ``cls`` instance."""
    fields = cls._betterproto.cls_by_field
    namespace: dict[str, Any] = {"_set_timestamp": _set_timestamp}
    lines = ["    t = b''"]
    merge = False
    for i, field in enumerate(cls.DESCRIPTOR.fields):
        name, attribute = field.name, _attribute(cls, field)
        target = _get(name)
        lines += [f"    v = m.{attribute}"]
        timestamp = (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.message_type.full_name == _TIMESTAMP
        )
        if timestamp and not _repeated(field):
            # collected as bytes, merged below (_timestamp_field)
            namespace[f"moments_{i}"], namespace[f"encode_{i}"] = _timestamp_field(field.number)
            merge = True
            lines += [
                "    if v is not None:",
                f"        b = moments_{i}.get(v)",
                f"        t += encode_{i}(v) if b is None else b",
            ]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if timestamp:
                fill = "_set_timestamp"
            else:
                fill = f"write_{i}"
                namespace[fill] = writer(fields[attribute])
            if _repeated(field):
                lines += ["    if v:", f"        add = {target}.add", "        for x in v:"]
                lines += [f"            {fill}(x, add())"]
            else:
                # present even when empty, as betterproto2 writes it
                lines += [
                    "    if v is not None:",
                    f"        s = {target}",
                    "        s.SetInParent()",
                ]
                lines += [f"        {fill}(v, s)"]
        elif _repeated(field):
            lines += ["    if v:", f"        {target}.extend(v)"]
        else:  # proto3 leaves defaults off the wire, as betterproto2 does
            assign = f"setattr(u, {name!r}, v)" if keyword.iskeyword(name) else f"u.{name} = v"
            lines += ["    if v:", f"        {assign}"]
    if merge:
        lines += ["    if t:", "        u.MergeFromString(t)"]
    return cast(Writer, _compile(cls, "write", "m, u", lines, namespace))


@cache
def _upb_of(cls: Any) -> Any:
    # Per class: a generated DESCRIPTOR is looked up by name on every access.
    return upb_class(cls.DESCRIPTOR)


def to_wire(message: betterproto2.Message) -> bytes:
    cls: Any = type(message)
    upb = _upb_of(cls)()
    writer(cls)(message, upb)
    return bytes(upb.SerializeToString())


def from_wire(cls: Any, data: bytes) -> Any:
    """Parse strictly (upb rejects corrupt input) and convert; raises on bad bytes."""
    return reader(cls)(_upb_of(cls).FromString(data))
