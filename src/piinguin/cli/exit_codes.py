"""The CLI's exit codes, and the one place a client error becomes one."""

from __future__ import annotations

from piinguin.client.errors import (
    DeadlineExceeded,
    InvalidArgument,
    PermissionDenied,
    PiinguinError,
    RecordNotFound,
    Restricted,
    Unauthenticated,
    Unavailable,
)

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_DENIED = 4
EXIT_ERROR = 5
#: ``subject verify-receipt``: the receipt was altered, or another key signed it.
EXIT_INVALID_RECEIPT = 6
#: A read met a restricted record and stated no ground.
#: Above EXIT_ERROR, so read-many's highest code among its lines says it.
EXIT_RESTRICTED = 7

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  no record is stored under the key
  2  bad usage, or the server rejected an argument
  3  the server is unavailable or did not answer in time
  4  unauthenticated, or permission denied
  5  any other error
  6  subject verify-receipt: the receipt does not verify
  7  the record is restricted (GDPR Art. 18): read it with --restriction-ground
For create-many, read-many and delete-many, the highest code among the lines."""

_EXIT_CODES: dict[type[PiinguinError], int] = {
    RecordNotFound: EXIT_NOT_FOUND,
    InvalidArgument: EXIT_USAGE,
    Unavailable: EXIT_UNAVAILABLE,
    DeadlineExceeded: EXIT_UNAVAILABLE,
    Unauthenticated: EXIT_DENIED,
    PermissionDenied: EXIT_DENIED,
    Restricted: EXIT_RESTRICTED,
}


def exit_code(error: PiinguinError) -> int:
    return _EXIT_CODES.get(type(error), EXIT_ERROR)


def describe(error: PiinguinError) -> str:
    """``not found: no record is stored under this key`` and the like."""
    if isinstance(error, Restricted):
        return f"{error.message} (read it with --restriction-ground GROUND)"
    return f"{error.status.name.lower().replace('_', ' ')}: {error.message}"
