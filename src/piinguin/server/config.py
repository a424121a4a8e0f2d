"""The server's configuration: a frozen dataclass, validated once, built at the entry point."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from piinguin.logs import LOG_LEVELS
from piinguin.options import Option, OptionError, build_parser, number, resolve, whole_number
from piinguin.server.guard.limits import WireLimits
from storage.crypto import KeyringSpec

StorageKind = Literal["memory", "dynamodb"]


def _optional(text: str) -> str | None:
    """An empty value (``PIINGUIN_REGION=``) is no value: the default applies."""
    return text or None


def _optional_port(text: str) -> int | None:
    return whole_number(text) if text else None


#: DynamoDB's rule for table names, and botocore's for region names (a DNS label).
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_REGION_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


OPTIONS: tuple[Option, ...] = (
    Option("--host", "address to listen on", "127.0.0.1"),
    Option("--port", "port to listen on; 0 picks a free one", 50051, whole_number),
    Option("--storage", "storage backend", "memory", choices=("memory", "dynamodb")),
    Option("--log-level", "lowest level logged", "info", choices=LOG_LEVELS),
    Option("--log-format", "log line format", "json", choices=("json", "console")),
    Option("--max-bulk-items", "most items in one bulk call", 1000, whole_number),
    Option(
        "--max-message-bytes",
        "largest request message accepted, in bytes",
        4 * 1024 * 1024,
        whole_number,
    ),
    Option(
        "--max-concurrent-streams",
        "calls one connection may have open at once (announced in SETTINGS); more are refused",
        100,
        whole_number,
    ),
    Option(
        "--max-connections",
        "open connections; past it the oldest idle one is closed, or the new one refused",
        1000,
        whole_number,
    ),
    Option(
        "--idle-timeout",
        "seconds a connection without calls stays open",
        300.0,
        number,
    ),
    Option(
        "--body-timeout",
        "seconds a request message may take to arrive whole",
        30.0,
        number,
    ),
    Option(
        "--grace-period",
        "seconds calls in flight may take to finish on SIGTERM/SIGINT",
        10.0,
        number,
    ),
    Option(
        "--unauthenticated-audit-budget",
        "calls failing authentication audited one by one, per peer address and second; "
        "the rest of the second is one event with their count",
        100,
        whole_number,
    ),
    Option("--policy", "TOML file of principals, token digests and grants; SIGHUP reloads it"),
    Option(
        "--insecure-no-auth",
        "serve without authentication, every caller may do everything: local development only",
        False,
        is_switch=True,
    ),
    Option(
        "--retention",
        "TOML file of record lifetimes by field name, and a default; without it records "
        "never expire",
    ),
    Option(
        "--receipt-key",
        "PEM file of the Ed25519 key erasure receipts are signed with (made by "
        "piinguin-admin receipt-key create); none means a key made at start, whose "
        "receipts cannot be verified after a restart",
    ),
    Option(
        "--pii-salts",
        "TOML file of the salt epochs and hash functions Snowplow's PII enrichment used "
        "(each salt from a file or a Secrets Manager secret): subject finds recompute "
        "pseudonyms with them; without it they use the blind index alone",
    ),
    Option("--tls-cert", "PEM certificate chain: serve over TLS"),
    Option("--tls-key", "PEM private key of --tls-cert"),
    Option(
        "--tls-client-ca",
        "PEM CA bundle: verify client certificates, whose subject CN names the principal",
    ),
    Option("--table", "DynamoDB table of records", "piinguin"),
    Option("--audit-table", "DynamoDB table of audit events", "piinguin-audit"),
    Option(
        "--dynamodb-endpoint",
        "DynamoDB endpoint URL, for a local one such as moto; none means AWS's own",
        None,
        _optional,
    ),
    Option(
        "--region",
        "AWS region of the tables; none means AWS_REGION, then the AWS chain "
        "(AWS_DEFAULT_REGION, ~/.aws/config)",
        None,
        _optional,
    ),
    Option(
        "--create-table",
        "create missing DynamoDB tables (PAY_PER_REQUEST) at start: development only",
        False,
        is_switch=True,
    ),
    Option(
        "--keyring",
        "where the keys that encrypt originals come from: local:PATH (a key file made by "
        "piinguin-admin keyring create) or kms:KEY_ID_OR_ARN; none means an in-process key "
        "with --storage memory, and is refused with --storage dynamodb",
        None,
        _optional,
    ),
    Option(
        "--insecure-no-encryption",
        "store originals in clear, as versions before encryption at rest did",
        False,
        is_switch=True,
    ),
    Option("--key-table", "DynamoDB table of per-record key material", "piinguin-keys"),
    Option(
        "--vault",
        "the name ciphertexts are bound to; none means --table. Give the original table's "
        "name when serving a copy restored under another",
        None,
        _optional,
    ),
    Option(
        "--workers",
        "server processes sharing the port (SO_REUSEPORT); one connection stays on one worker",
        1,
        whole_number,
    ),
    Option(
        "--metrics-port",
        "port serving Prometheus metrics at /metrics (on --host); none means no metrics",
        None,
        _optional_port,
    ),
    Option(
        "--legacy-api",
        "also serve the original piinguin's gRPC protocol, for its generated clients",
        False,
        is_switch=True,
    ),
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    storage: StorageKind = "memory"
    log_level: str = "info"
    log_format: Literal["json", "console"] = "json"
    max_bulk_items: int = 1000
    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_streams: int = 100
    max_connections: int = 1000
    idle_timeout: float = 300.0
    body_timeout: float = 30.0
    grace_period: float = 10.0
    unauthenticated_audit_budget: int = 100
    policy: str | None = None
    insecure_no_auth: bool = False
    retention: str | None = None
    receipt_key: str | None = None
    pii_salts: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    table: str = "piinguin"
    audit_table: str = "piinguin-audit"
    dynamodb_endpoint: str | None = None
    region: str | None = None
    create_table: bool = False
    keyring: str | None = None
    insecure_no_encryption: bool = False
    key_table: str = "piinguin-keys"
    vault: str | None = None
    workers: int = 1
    metrics_port: int | None = None
    legacy_api: bool = False

    def __post_init__(self) -> None:
        if not self.host:
            raise OptionError("--host", "must not be empty")
        if not 0 <= self.port <= 65535:
            raise OptionError("--port", f"must be between 0 and 65535, got {self.port}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise OptionError(
                "--metrics-port", f"must be between 0 and 65535, got {self.metrics_port}"
            )
        if self.metrics_port == self.port != 0:
            raise OptionError("--metrics-port", f"must differ from --port ({self.port})")
        if not 1 <= self.workers <= 64:
            raise OptionError("--workers", f"must be between 1 and 64, got {self.workers}")
        if not 1 <= self.max_bulk_items <= 100_000:
            raise OptionError(
                "--max-bulk-items", f"must be between 1 and 100000, got {self.max_bulk_items}"
            )
        if not 1024 <= self.max_message_bytes <= 256 * 1024 * 1024:
            raise OptionError(
                "--max-message-bytes",
                f"must be between 1024 and {256 * 1024 * 1024}, got {self.max_message_bytes}",
            )
        self._check_wire()
        if not 0 <= self.grace_period <= 3600:
            raise OptionError(
                "--grace-period", f"must be between 0 and 3600 seconds, got {self.grace_period}"
            )
        self._check_access()
        self._check_dynamodb()
        self._check_encryption()

    def _check_access(self) -> None:
        if self.policy and self.insecure_no_auth:
            raise OptionError("--insecure-no-auth", "cannot be combined with --policy")
        if not self.policy and not self.insecure_no_auth:
            raise OptionError(
                "--policy",
                "required: a file saying who may do what "
                "(or --insecure-no-auth, for local development only)",
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise OptionError(
                "--tls-key" if self.tls_cert else "--tls-cert", "give both --tls-cert and --tls-key"
            )
        if self.tls_client_ca and not self.tls_cert:
            raise OptionError("--tls-client-ca", "needs --tls-cert and --tls-key")
        if not 0 <= self.unauthenticated_audit_budget <= 1_000_000:
            raise OptionError(
                "--unauthenticated-audit-budget",
                f"must be between 0 and 1000000, got {self.unauthenticated_audit_budget}",
            )

    @property
    def keyring_spec(self) -> KeyringSpec | None:
        """The keyring to open; ``None`` for no encryption at all."""
        if self.insecure_no_encryption:
            return None
        if self.keyring is None:
            return KeyringSpec("ephemeral", "")
        return KeyringSpec.parse(self.keyring)

    @property
    def vault_name(self) -> str:
        return self.vault or self.table

    def _check_encryption(self) -> None:
        if self.keyring is not None and self.insecure_no_encryption:
            raise OptionError("--insecure-no-encryption", "cannot be combined with --keyring")
        if self.keyring is not None:
            try:
                spec = KeyringSpec.parse(self.keyring)
            except ValueError as exc:
                raise OptionError("--keyring", str(exc)) from None
            if spec.scheme == "ephemeral" and self.storage == "dynamodb":
                raise OptionError(
                    "--keyring", "ephemeral keys die with the process; DynamoDB records outlive it"
                )
        elif self.storage == "dynamodb" and not self.insecure_no_encryption:
            raise OptionError(
                "--keyring",
                "required with --storage dynamodb: local:PATH (make one with "
                "'piinguin-admin keyring create PATH') or kms:KEY_ID_OR_ARN; or give "
                "--insecure-no-encryption to keep storing originals in clear as before "
                "(see the README's upgrade note)",
            )
        for flag, name in (("--key-table", self.key_table), ("--vault", self.vault_name)):
            if not _TABLE_NAME.fullmatch(name):
                raise OptionError(
                    flag, f"expected 3 to 255 letters, digits, '_', '-' or '.', got {name!r}"
                )
        if self.key_table in {self.table, self.audit_table}:
            raise OptionError("--key-table", "must differ from --table and --audit-table")

    def _check_wire(self) -> None:
        if not 1 <= self.max_concurrent_streams <= 10_000:
            raise OptionError(
                "--max-concurrent-streams",
                f"must be between 1 and 10000, got {self.max_concurrent_streams}",
            )
        if not 1 <= self.max_connections <= 1_000_000:
            raise OptionError(
                "--max-connections", f"must be between 1 and 1000000, got {self.max_connections}"
            )
        for flag, seconds in (
            ("--idle-timeout", self.idle_timeout),
            ("--body-timeout", self.body_timeout),
        ):
            if not 0.01 <= seconds <= 86_400:
                raise OptionError(flag, f"must be between 0.01 and 86400 seconds, got {seconds}")

    def wire(self) -> WireLimits:
        """What one peer may hold, for the server's HTTP/2 layer."""
        return WireLimits(
            max_message_bytes=self.max_message_bytes,
            max_concurrent_streams=self.max_concurrent_streams,
            max_connections=self.max_connections,
            idle_timeout=self.idle_timeout,
            body_timeout=self.body_timeout,
        )

    def _check_dynamodb(self) -> None:
        for flag, name in (("--table", self.table), ("--audit-table", self.audit_table)):
            if not _TABLE_NAME.fullmatch(name):
                raise OptionError(
                    flag, f"expected 3 to 255 letters, digits, '_', '-' or '.', got {name!r}"
                )
        if self.audit_table == self.table:
            raise OptionError("--audit-table", "must not be the same table as --table")
        if self.region is not None and not _REGION_NAME.fullmatch(self.region):
            raise OptionError(
                "--region", f"expected an AWS region name such as eu-west-1, got {self.region!r}"
            )
        if self.dynamodb_endpoint is not None and not _is_endpoint(self.dynamodb_endpoint):
            raise OptionError(
                "--dynamodb-endpoint",
                "expected an http:// or https:// URL such as http://localhost:5000, "
                f"got {self.dynamodb_endpoint!r}",
            )

    @classmethod
    def from_args(cls, argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
        """Build from command-line arguments and environment; raises ``OptionError``."""
        parser = build_parser("piinguin-server", "Serve the Piinguin PII vault over gRPC.", OPTIONS)
        values = resolve(OPTIONS, parser.parse_args(argv), environ)
        if values["region"] is None:
            # The AWS chain reads AWS_DEFAULT_REGION and ~/.aws/config, but botocore skips
            # the AWS_REGION that other SDKs and Lambda set: take it here.
            values["region"] = environ.get("AWS_REGION") or None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _is_endpoint(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not one
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and not (parts.query or parts.fragment or parts.username or parts.password)
    )
