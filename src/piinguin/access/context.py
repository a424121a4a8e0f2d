"""The running call's context: who is calling, on which method, how many items the call
carries and why it was refused. The server's call tracker enters it; services and the
gatekeeper read it. It lives here, below both, so access control never imports the server
runtime."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from piinguin.access.auth import Caller
from piinguin.access.policy import DenialReason
from piinguin.ids import new_id


@dataclass(slots=True)
class CallContext:
    method: str
    peer: str
    request_id: str
    caller: Caller | None = None
    items: int = 0
    #: Why the call was refused, if it was (for the metrics).
    denial: DenialReason | None = None


_current: ContextVar[CallContext | None] = ContextVar("piinguin_call", default=None)


def enter_call(context: CallContext) -> Token[CallContext | None]:
    return _current.set(context)


def leave_call(token: Token[CallContext | None]) -> None:
    _current.reset(token)


def current_call() -> CallContext:
    """The running call's context; outside a tracked call, an unauthenticated stand-in
    that is not remembered (reading the context never changes it)."""
    context = _current.get()
    if context is None:
        return CallContext(method="", peer="", request_id=new_id())
    return context


def count_items(items: int) -> None:
    """Record how many items the current call carries, for its log line."""
    current_call().items = items
