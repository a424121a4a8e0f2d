"""The relay's settings: one frozen ``RelayConfig``, from the environment or the command line.

The Lambda reads ``PIINGUIN_*`` variables; ``piinguin-relay`` takes the same settings as
flags, each flag winning over its variable. Both are declared once, in ``OPTIONS``. A bad
setting raises ``OptionError``, whose one-line message names the variable (and the flag).

The token and the TLS files can each come from AWS instead (``PIINGUIN_TOKEN_SECRET``,
``PIINGUIN_TLS_CA_SECRET``, ...: the ARN of a Secrets Manager secret or an SSM parameter,
see ``relay.secrets``). The configuration holds only the ARNs; ``credentials()`` reads
them, once, into the token and the TLS context that a connection uses.
"""

from __future__ import annotations

import argparse
import math
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from piinguin.client import parse_target
from piinguin.logs import LOG_LEVELS
from piinguin.options import Option, number, resolve, whole_number
from piinguin.tls import client_context
from relay.secrets import SecretRef, SecretUnavailable, fetch_secret, parse_secret_arn

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
    Option("--token-secret", "ARN of a Secrets Manager secret or SSM parameter holding --token"),
    Option("--tls-ca-secret", "ARN of a secret or SSM parameter holding --tls-ca's PEM"),
    Option("--tls-cert-secret", "ARN of a secret or SSM parameter holding --tls-cert's PEM"),
    Option("--tls-key-secret", "ARN of a secret or SSM parameter holding --tls-key's PEM"),
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
#: Each setting that may come from a secret, and the setting naming that secret.
_SECRETS = {
    "token": "token_secret",
    "tls_ca": "tls_ca_secret",
    "tls_cert": "tls_cert_secret",
    "tls_key": "tls_key_secret",
}

_TLS_FILES = ("tls_ca", "tls_cert", "tls_key")

#: Reads a secret's text: ``relay.secrets.fetch_secret``, or a test's stand-in.
Fetch = Callable[[SecretRef], str]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a connection presents: the bearer token, and the TLS context (``None``
    without TLS)."""

    token: str | None = field(repr=False)
    ssl: ssl.SSLContext | None


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
    token_secret: str | None = None
    tls_ca_secret: str | None = None
    tls_cert_secret: str | None = None
    tls_key_secret: str | None = None

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
        self._check_secrets()
        for dest in (*_TLS_FILES, *(_SECRETS[name] for name in _TLS_FILES)):
            if getattr(self, dest) and not self.tls:
                raise _BY_DEST[dest].invalid(f"needs {_BY_DEST['tls'].env}=true")
        has_cert = bool(self.tls_cert or self.tls_cert_secret)
        if has_cert != bool(self.tls_key or self.tls_key_secret):
            missing = "tls_key" if has_cert else "tls_cert"
            raise _BY_DEST[missing].invalid("mutual TLS needs both a certificate and its key")
        if not 1 <= self.bulk_size <= MAX_BULK_SIZE:
            raise _BY_DEST["bulk_size"].invalid(
                f"must be between 1 and {MAX_BULK_SIZE}, got {self.bulk_size}"
            )
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise _BY_DEST["concurrency"].invalid(
                f"must be between 1 and {MAX_CONCURRENCY}, got {self.concurrency}"
            )

    def _check_secrets(self) -> None:
        for plain, secret in _SECRETS.items():
            if getattr(self, secret) is None:
                continue
            try:
                parse_secret_arn(getattr(self, secret))
            except ValueError as exc:
                raise _BY_DEST[secret].invalid(str(exc)) from None
            if getattr(self, plain):
                raise _BY_DEST[secret].invalid(f"give this or {_BY_DEST[plain].env}, not both")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RelayConfig:
        """The Lambda's configuration; raises ``OptionError`` naming the variable."""
        return cls.from_args(argparse.Namespace(**dict.fromkeys(_BY_DEST)), environ)

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> RelayConfig:
        """From parsed flags (``None`` where not given), then the environment, then defaults."""
        values = resolve(OPTIONS, args, environ)
        for name in ("token", *_SECRETS.values()):  # PIINGUIN_TOKEN= means no token
            values[name] = values[name] or None
        return cls(**{name: values[name] for name in _BY_DEST})

    def credentials(self, fetch: Fetch = fetch_secret) -> Credentials:
        """The token and the TLS context, reading each configured secret once."""
        token = self.token
        if self.token_secret:
            token = self._fetch("token_secret", fetch).strip()
            if not (token and token.isascii() and token.isprintable()):
                raise _BY_DEST["token_secret"].invalid("the secret must hold printable ASCII")
        return Credentials(token, self.ssl_context(fetch))

    def ssl_context(self, fetch: Fetch = fetch_secret) -> ssl.SSLContext | None:
        """The TLS context, loading the PEM files and secrets; ``None`` without TLS."""
        if not self.tls:
            return None
        ca_data = self._fetch("tls_ca_secret", fetch) if self.tls_ca_secret else None
        try:
            context = client_context(self.tls_ca, ca_data=ca_data)
        except (OSError, ssl.SSLError, ValueError) as exc:
            dest = "tls_ca_secret" if ca_data else "tls_ca"
            raise _BY_DEST[dest].invalid(
                f"cannot load {getattr(self, dest)!r}: {_reason(exc)}"
            ) from None
        if not (self.tls_cert or self.tls_cert_secret):
            return context
        # ssl loads a certificate chain from files only: PEMs read from secrets go to a
        # private temporary folder (mode 0700, files 0600) for the moment of loading.
        with tempfile.TemporaryDirectory(prefix="piinguin-relay-") as private:
            cert = self.tls_cert or _private_file(
                private, "cert.pem", self._fetch("tls_cert_secret", fetch)
            )
            key = self.tls_key or _private_file(
                private, "key.pem", self._fetch("tls_key_secret", fetch)
            )
            try:
                context.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as exc:
                dest = "tls_cert" if self.tls_cert else "tls_cert_secret"
                problem = f"cannot load {getattr(self, dest)!r} with its key: {_reason(exc)}"
                raise _BY_DEST[dest].invalid(problem) from None
        return context

    def _fetch(self, dest: str, fetch: Fetch) -> str:
        arn = getattr(self, dest)
        try:
            return fetch(parse_secret_arn(arn))
        except SecretUnavailable as exc:
            raise _BY_DEST[dest].invalid(f"cannot read {arn}: {exc}") from None


def _private_file(folder: str, name: str, text: str) -> str:
    path = Path(folder, name)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)
    return str(path)


def _reason(exc: OSError | ValueError) -> str:
    # ssl.SSLError carries OpenSSL's reason; other OSErrors the system's message; a
    # ValueError from cadata says there was no certificate in it.
    if isinstance(exc, OSError):
        return str(getattr(exc, "reason", None) or exc.strerror or type(exc).__name__)
    return "no PEM certificate in it"
