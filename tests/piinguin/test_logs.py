"""The lean bound logger writes what structlog's own filtering bound logger writes."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest
import structlog
from structlog.exceptions import DropEvent
from structlog.typing import FilteringBoundLogger

from piinguin.logs import lean_bound_logger


class Capture:
    """A wrapped logger that keeps what each method was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kw: Any) -> None:
            self.calls.append((name, args, kw))

        return record


def as_text(_: Any, method: str, event_dict: dict[str, Any]) -> str:
    return f"{method}: " + ", ".join(f"{k}={v!r}" for k, v in event_dict.items())


def as_tuple(_: Any, method: str, event_dict: dict[str, Any]) -> tuple[Any, ...]:
    return (method,), event_dict


def as_dict(_: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {**event_dict, "method": method}


def drop_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if event_dict.get("drop"):
        raise DropEvent
    return event_dict


def calls_of(
    wrapper: type[FilteringBoundLogger],
    use: Callable[[Any], object],
    processors: list[Any],
) -> tuple[list[tuple[str, tuple[Any, ...], dict[str, Any]]], object]:
    capture = Capture()
    logger = wrapper(capture, processors=processors, context={})  # type: ignore[call-arg]
    returned = use(logger)
    return capture.calls, returned


USES: dict[str, Callable[[Any], object]] = {
    "info with fields": lambda log: log.info("call", method="/x", items=3),
    "bound context, field wins": lambda log: log.bind(a=1, b=2).warning("e", b=3),
    "interpolated args": lambda log: log.info("%s of %d", "one", 2),
    "interpolated dict": lambda log: log.error("%(who)s", {"who": "me"}),
    "interpolated mapping": lambda log: log.info("%(n)s", MappingProxyType({"n": 1})),
    "aliases": lambda log: (log.msg("m"), log.warn("w"), log.fatal("f")),  # noqa: G010
    "below the level": lambda log: log.debug("hidden", x=1),
    "exception": lambda log: log.exception("boom"),  # noqa: LOG004 (exc_info=True either way)
    "no event": lambda log: log.info(None, x=1),
    "dropped": lambda log: log.info("gone", drop=True),
    "log(level)": lambda log: log.log(logging.CRITICAL, "via log"),
}


@pytest.mark.parametrize("final", [as_text, as_tuple, as_dict])
@pytest.mark.parametrize("use", list(USES.values()), ids=list(USES))
def test_same_calls_on_the_wrapped_logger_as_structlog(
    use: Callable[[Any], object], final: Any
) -> None:
    processors = [drop_secrets, final]
    ours = calls_of(lean_bound_logger(logging.INFO), use, processors)
    theirs = calls_of(structlog.make_filtering_bound_logger(logging.INFO), use, processors)

    assert ours == theirs


def test_levels_below_the_minimum_stay_structlog_s_no_ops() -> None:
    lean = lean_bound_logger(logging.WARNING)
    capture = Capture()
    logger = lean(capture, processors=[as_text], context={})  # type: ignore[call-arg]
    logger.info("quiet")
    logger.debug("quieter")
    logger.warning("loud")
    assert capture.calls == [("warning", ("warning: event='loud'",), {})]
    # the enabled methods are the lean ones, the rest structlog's own
    assert lean.warning.__module__ == "piinguin.logs"
    assert lean.info.__module__ == "structlog._native"


def test_a_last_processor_returning_something_else_is_an_error() -> None:
    logger = lean_bound_logger(logging.INFO)(
        Capture(),
        processors=[lambda *_: 42],
        context={},  # type: ignore[call-arg]
    )
    with pytest.raises(ValueError, match="last processor"):
        logger.info("x")


def test_configured_logging_uses_the_lean_methods(log_output: Callable[[], str]) -> None:
    logger = structlog.get_logger("piinguin.test").bind()
    assert type(logger).info.__module__ == "piinguin.logs"
    logger.info("configured", n=1)
    assert '"event":"configured"' in log_output()


@pytest.mark.parametrize(
    "wrapper",
    [lean_bound_logger(logging.INFO), structlog.make_filtering_bound_logger(logging.INFO)],
)
def test_an_event_is_required_and_a_logger_may_drop_it(wrapper: Any) -> None:
    class Dropping(Capture):
        def info(self, *_: Any) -> None:
            raise DropEvent

    logger = wrapper(Dropping(), processors=[as_text], context={})
    with pytest.raises(TypeError):
        logger.info()
    assert logger.info("dropped by the logger itself") is None


def test_lean_loggers_pickle_as_structlog_s_do() -> None:
    logger = lean_bound_logger(logging.INFO)(
        structlog.PrintLogger(),
        processors=[as_text],
        context={"a": 1},  # type: ignore[call-arg]
    )
    copy = pickle.loads(pickle.dumps(logger))
    assert type(copy) is type(logger)
    assert copy._context == {"a": 1}
