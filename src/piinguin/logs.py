"""structlog set-up, done once by each entry point. Library code only calls get_logger."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import orjson
import structlog

LogFormat = Literal["json", "console"]


def _dumps(event: object, **_: object) -> str:
    # orjson: a log line per call (and an audit line per read) is a real share of a call.
    return orjson.dumps(event, default=str).decode()


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
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
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
