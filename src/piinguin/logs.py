"""structlog set-up, done once by each entry point. Library code only calls get_logger."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
import structlog
from grpclib.const import Status
from structlog.contextvars import merge_contextvars
from structlog.exceptions import DropEvent
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

LogFormat = Literal["json", "console"]
#: What every entry point's ``--log-level`` offers.
LOG_LEVELS = ("debug", "info", "warning", "error")
#: gRPC status names for log lines, by member (call lines) and by number (audit events
#: keep numbers): ``Status.name`` and ``Status.value`` are property lookups, per call.
STATUS_NAMES: Mapping[Status | int, str] = {
    **{status: status.name for status in Status},
    **{status.value: status.name for status in Status},
}


def _dumps(event: object, **_: object) -> str:
    # orjson: a log line per call (and an audit line per read) is a real share of a call.
    return orjson.dumps(event, default=str).decode()


#: The last whole second stamped, and its ISO text up to the seconds.
_second: list[Any] = [None, ""]
#: What structlog's add_log_level writes for each method name.
_LEVELS = {"warn": "warning", "exception": "error"}


def _iso_utc_now() -> str:
    """``datetime.now(UTC).isoformat()`` with ``Z`` for ``+00:00``, as structlog's
    ``TimeStamper(fmt="iso", utc=True)`` writes it, formatting the date and time once
    a second."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        cached[1] = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cached[0] = seconds
    micros = nanos // 1000
    return f"{cached[1]}.{micros:06d}Z" if micros else f"{cached[1]}Z"


def _prepare(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """merge_contextvars, add_log_level, TimeStamper(fmt="iso", utc=True) and
    format_exc_info in one processor: the same fields, in the same order, at a fraction
    of the cost of a processor each (two lines a unary read)."""
    event_dict = merge_contextvars(logger, method_name, event_dict)
    event_dict["level"] = _LEVELS.get(method_name, method_name)
    event_dict["timestamp"] = _iso_utc_now()
    if "exc_info" in event_dict:
        return structlog.processors.format_exc_info(logger, method_name, event_dict)
    return event_dict


def _render_json(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
    """``_prepare`` and the JSON renderer in one processor."""
    return orjson.dumps(_prepare(logger, method_name, event_dict), default=str).decode()


#: structlog's level numbers by method name, aliases included.
_LEVEL_METHODS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_OUTPUT_METHODS = {"msg": "info", "warn": "warning", "fatal": "critical"}


def _lean_method(name: str) -> Callable[..., Any]:
    """A level method doing in one frame what structlog's does in three (the method,
    ``_proxy_to_logger``, ``_process_event``), with the same results. (structlog's
    ``CallsiteParameterAdder`` would need ``additional_ignores=["piinguin.logs"]``.)"""
    output = _OUTPUT_METHODS.get(name, name)

    def emit(self: Any, event: str | None, *args: Any, **kw: Any) -> Any:
        if args:  # %-interpolation, as structlog's methods do it
            mapping = len(args) == 1 and isinstance(args[0], Mapping) and args[0]
            event = event % (args[0] if mapping else args)  # type: ignore[operator]
        if self._context:
            event_dict: Any = self._context.copy()  # keeps structlog's context_class
            event_dict.update(kw)
        else:
            event_dict = kw
        if event is not None:
            event_dict["event"] = event
        try:
            for processor in self._processors:
                event_dict = processor(self._logger, output, event_dict)
            write = getattr(self._logger, output)
            if isinstance(event_dict, str | bytes | bytearray):
                return write(event_dict)
            if isinstance(event_dict, tuple):
                return write(*event_dict[0], **event_dict[1])
            if isinstance(event_dict, dict):
                return write(**event_dict)
        except DropEvent:
            return None
        raise ValueError("the last processor returned neither text, a tuple nor a dict")

    emit.__name__ = emit.__qualname__ = name
    return emit


def _lean_class(min_level: int) -> type[FilteringBoundLogger]:
    base = structlog.make_filtering_bound_logger(min_level)
    methods: dict[str, Any] = {
        name: _lean_method(name) for name, level in _LEVEL_METHODS.items() if level >= min_level
    }
    methods["__module__"] = __name__
    return type(f"Lean{base.__name__}", (base,), methods)


# One class a level, created once under the name it is found by, so that loggers pickle
# as structlog's own do (structlog pre-creates its classes for the same reason).
LeanBoundLoggerFilteringAtNotset = _lean_class(logging.NOTSET)
LeanBoundLoggerFilteringAtDebug = _lean_class(logging.DEBUG)
LeanBoundLoggerFilteringAtInfo = _lean_class(logging.INFO)
LeanBoundLoggerFilteringAtWarning = _lean_class(logging.WARNING)
LeanBoundLoggerFilteringAtError = _lean_class(logging.ERROR)
LeanBoundLoggerFilteringAtCritical = _lean_class(logging.CRITICAL)
_LEAN_CLASSES = {
    logging.NOTSET: LeanBoundLoggerFilteringAtNotset,
    logging.DEBUG: LeanBoundLoggerFilteringAtDebug,
    logging.INFO: LeanBoundLoggerFilteringAtInfo,
    logging.WARNING: LeanBoundLoggerFilteringAtWarning,
    logging.ERROR: LeanBoundLoggerFilteringAtError,
    logging.CRITICAL: LeanBoundLoggerFilteringAtCritical,
}


def lean_bound_logger(min_level: int) -> type[FilteringBoundLogger]:
    """structlog's filtering bound logger for ``min_level`` (a ``logging`` level), its
    enabled level methods replaced by ``_lean_method``'s: a unary read writes two lines,
    and structlog's general path was about a fifth of Piinguin's own time per call
    (custom wrapper classes are structlog's documented way to change it)."""
    return _LEAN_CLASSES[min_level]


def configure_logging(
    level: str, fmt: LogFormat, *, stream: TextIO | None = None, cache: bool = True
) -> None:
    """Render structlog events, and stdlib records (grpclib, botocore), as one stream.

    ``cache=False`` lets tests reconfigure: cached loggers keep the first configuration.
    """
    out = stream or sys.stdout
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[_render_json] if fmt == "json" else [_prepare, renderer],
        wrapper_class=lean_bound_logger(numeric),
        # One write per line (print writes the text and the newline apart), so lines of
        # several worker processes sharing stdout never interleave.
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Other libraries' chatter below WARNING is noise next to our per-call lines.
    root.setLevel(max(numeric, logging.WARNING))
