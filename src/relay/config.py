"""The relay's settings: one frozen ``RelayConfig``, from the environment or the command line.

The Lambda reads ``PIINGUIN_*`` variables; ``piinguin-relay`` takes the same settings as
flags, each flag winning over its variable. Both are declared once, in ``OPTIONS``. A bad
setting raises ``OptionError``, whose one-line message names the variable (and the flag).
"""

from __future__ import annotations

import argparse
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from piinguin.client import parse_target
from piinguin.logs import LOG_LEVELS
from piinguin.options import Option, number, resolve, whole_number
from piinguin.tls import client_context

#: The server's default ``--max-bulk-items``: a larger bulk call is refused whole.
MAX_BULK_SIZE = 1000
MAX_CONCURRENCY = 64


OPTIONS: tuple[Option, ...] = (
    Option("--target", "the Piinguin server, as host:port or [ipv6]:port (required)"),
    Option("--timeout-sec", "seconds each bulk call may take", 10.0, number),
    Option("--token", "bearer token sent with every call; prefer the environment variable"),
    Option("--tls", "connect over TLS", default=False, is_switch=True),
    Option("--tls-ca", "PEM CA bundle to verify the server with, instead of the system's"),
    Option("--tls-cert", "PEM client certificate, for mutual TLS"),
    Option("--tls-key", "PEM private key of --tls-cert"),
    Option("--bulk-size", "pairs per bulk call, at most the server's 1000", 500, whole_number),
    Option("--concurrency", "bulk calls in flight at once", 4, whole_number),
    Option(
        "--fail-malformed",
        "report malformed records as failures instead of skipping them",
        default=False,
        is_switch=True,
    ),
    Option("--log-level", "lowest level logged", "info", choices=LOG_LEVELS),
)
_BY_DEST = {option.dest: option for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class RelayConfig:
    target: str
    timeout_sec: float = 10.0
    token: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    bulk_size: int = 500
    concurrency: int = 4
    fail_malformed: bool = False
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not self.target:
            raise _BY_DEST["target"].invalid("required: the Piinguin server as host:port")
        try:
            parse_target(self.target)
        except ValueError as exc:
            raise _BY_DEST["target"].invalid(str(exc)) from None
        if not (math.isfinite(self.timeout_sec) and 0 < self.timeout_sec <= 900):
            raise _BY_DEST["timeout_sec"].invalid(
                f"must be above 0 and at most 900, got {self.timeout_sec}"
            )
        if self.token is not None and not (self.token.isascii() and self.token.isprintable()):
            raise _BY_DEST["token"].invalid("must be printable ASCII")  # never echo a secret
        for dest in ("tls_ca", "tls_cert", "tls_key"):
            if getattr(self, dest) and not self.tls:
                raise _BY_DEST[dest].invalid(f"needs {_BY_DEST['tls'].env}=true")
        if bool(self.tls_cert) != bool(self.tls_key):
            missing = "tls_key" if self.tls_cert else "tls_cert"
            raise _BY_DEST[missing].invalid("mutual TLS needs both a certificate and its key")
        if not 1 <= self.bulk_size <= MAX_BULK_SIZE:
            raise _BY_DEST["bulk_size"].invalid(
                f"must be between 1 and {MAX_BULK_SIZE}, got {self.bulk_size}"
            )
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise _BY_DEST["concurrency"].invalid(
                f"must be between 1 and {MAX_CONCURRENCY}, got {self.concurrency}"
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RelayConfig:
        """The Lambda's configuration; raises ``OptionError`` naming the variable."""
        return cls.from_args(argparse.Namespace(**dict.fromkeys(_BY_DEST)), environ)

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> RelayConfig:
        """From parsed flags (``None`` where not given), then the environment, then defaults."""
        values = resolve(OPTIONS, args, environ)
        values["token"] = values["token"] or None  # PIINGUIN_TOKEN= means no token
        return cls(**{name: values[name] for name in _BY_DEST})

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context, loading the PEM files; ``None`` without TLS."""
        if not self.tls:
            return None
        try:
            context = client_context(self.tls_ca)
        except (OSError, ssl.SSLError) as exc:
            raise _BY_DEST["tls_ca"].invalid(
                f"cannot load {self.tls_ca!r}: {_reason(exc)}"
            ) from None
        if self.tls_cert:
            try:
                context.load_cert_chain(self.tls_cert, self.tls_key)
            except (OSError, ssl.SSLError) as exc:
                problem = f"cannot load {self.tls_cert!r} with its key: {_reason(exc)}"
                raise _BY_DEST["tls_cert"].invalid(problem) from None
        return context


def _reason(exc: OSError) -> str:
    # ssl.SSLError carries OpenSSL's reason; other OSErrors the system's message.
    return str(getattr(exc, "reason", None) or exc.strerror or type(exc).__name__)
