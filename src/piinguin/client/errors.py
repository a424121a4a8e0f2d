"""The client's exceptions, and the one place where failed calls become them.

    PiinguinError            any failed call; ``.status`` is its gRPC status
    ├── InvalidArgument      INVALID_ARGUMENT: the server rejected the request as malformed
    ├── RecordNotFound       NOT_FOUND: no record is stored under the key
    ├── Unauthenticated      UNAUTHENTICATED: no or a bad token
    ├── PermissionDenied     PERMISSION_DENIED: the token may not do this
    ├── ResourceExhausted    RESOURCE_EXHAUSTED: e.g. a request over the server's size limit
    ├── Unavailable          UNAVAILABLE, or the server could not be reached: worth a retry
    ├── Erased               FAILED_PRECONDITION "erased ...": the data subject was erased
    ├── Restricted           FAILED_PRECONDITION on a read: the record is restricted (GDPR
    │                        Art. 18); read it stating a restriction ground
    └── DeadlineExceeded     DEADLINE_EXCEEDED, or the call's own deadline passed

Other status codes raise ``PiinguinError`` itself. Messages are the server's status
message, which never contains an original value, or a description of the connection
failure.
"""

from __future__ import annotations

import errno
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from h2.exceptions import H2Error


class PiinguinError(Exception):
    status: Status = Status.UNKNOWN

    def __init__(self, message: str, *, status: Status | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgument(PiinguinError):
    status = Status.INVALID_ARGUMENT


class RecordNotFound(PiinguinError):
    status = Status.NOT_FOUND


class Unauthenticated(PiinguinError):
    status = Status.UNAUTHENTICATED


class PermissionDenied(PiinguinError):
    status = Status.PERMISSION_DENIED


class ResourceExhausted(PiinguinError):
    status = Status.RESOURCE_EXHAUSTED


class Unavailable(PiinguinError):
    status = Status.UNAVAILABLE


class DeadlineExceeded(PiinguinError):
    status = Status.DEADLINE_EXCEEDED


class Erased(PiinguinError):
    """A write not stored, nor ever to be, because its pseudonym or value was erased at
    the data subject's request (GDPR Art. 17)."""

    status = Status.FAILED_PRECONDITION


class Restricted(PiinguinError):
    """Raised by the read calls alone: FAILED_PRECONDITION means other things elsewhere."""

    status = Status.FAILED_PRECONDITION


def is_erased(message: str) -> bool:
    """Whether a FAILED_PRECONDITION's message is the server's "erased" one."""
    return message.startswith("erased")


_BY_STATUS: dict[Status, type[PiinguinError]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        RecordNotFound,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
    )
}


def error_for_status(status: Status, message: str | None) -> PiinguinError:
    """The exception for a non-OK status, whether a whole call's or one bulk item's."""
    if status is Status.FAILED_PRECONDITION and is_erased(message or ""):
        return Erased(message or "erased", status=status)
    cls = _BY_STATUS.get(status, PiinguinError)
    return cls(message or f"the server answered {status.name}", status=status)


#: The errno each connection error stands for, when it was raised without one.
_ERRNOS: dict[type[OSError], int] = {
    ConnectionRefusedError: errno.ECONNREFUSED,
    ConnectionResetError: errno.ECONNRESET,
    ConnectionAbortedError: errno.ECONNABORTED,
    BrokenPipeError: errno.EPIPE,
}


def _describe(exc: OSError) -> str:
    """The operating system's words for the failure (``Connection refused``), never the
    exception's class name."""
    code = exc.errno if exc.errno is not None else _ERRNOS.get(type(exc))
    if isinstance(exc, ConnectionError) and code is not None:
        return os.strerror(code)
    return exc.strerror or str(exc) or "the connection failed"


@contextmanager
def translated_errors(target: str) -> Iterator[None]:
    """Turn whatever a call to ``target`` raised into a ``PiinguinError``, most specific first."""
    try:
        yield
    except GRPCError as exc:
        raise error_for_status(exc.status, exc.message) from exc
    except TimeoutError as exc:
        # grpclib ends a call at its deadline with a bare TimeoutError; one with an errno
        # comes from the operating system, giving up on connecting.
        if exc.errno is None:
            raise DeadlineExceeded("the deadline passed before the server answered") from exc
        raise Unavailable(f"cannot reach {target}: {_describe(exc)}") from exc
    except ssl.SSLError as exc:
        detail = getattr(exc, "reason", None) or exc  # set when the ssl module raised it
        raise Unavailable(f"TLS with {target} failed: {detail}") from exc
    except OSError as exc:
        raise Unavailable(f"cannot reach {target}: {_describe(exc)}") from exc
    except (StreamTerminatedError, H2Error) as exc:
        detail = f": {exc}" if str(exc) else ""
        raise Unavailable(f"the connection to {target} failed{detail}") from exc
