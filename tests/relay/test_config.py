"""The relay's settings from the environment: defaults, and one line naming each bad one."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from piinguin.options import OptionError
from relay.config import RelayConfig
from tests.piinguin.access.certs import Authority

TARGET = {"PIINGUIN_TARGET": "piinguin.internal:50051"}


def test_defaults() -> None:
    assert RelayConfig.from_environ(TARGET) == RelayConfig(
        target="piinguin.internal:50051",
        timeout_sec=10.0,
        token=None,
        tls=False,
        bulk_size=500,
        concurrency=4,
        fail_malformed=False,
        log_level="info",
    )


def test_every_variable() -> None:
    environ = {
        **TARGET,
        "PIINGUIN_TIMEOUT_SEC": "2.5",
        "PIINGUIN_TOKEN": "s3cret-token",
        "PIINGUIN_TLS": "true",
        "PIINGUIN_TLS_CA": "/etc/piinguin/ca.pem",
        "PIINGUIN_TLS_CERT": "/etc/piinguin/relay.pem",
        "PIINGUIN_TLS_KEY": "/etc/piinguin/relay.key",
        "PIINGUIN_BULK_SIZE": "1000",
        "PIINGUIN_CONCURRENCY": "8",
        "PIINGUIN_FAIL_MALFORMED": "yes",
        "PIINGUIN_LOG_LEVEL": "debug",
    }
    config = RelayConfig.from_environ(environ)
    assert config == RelayConfig(
        target="piinguin.internal:50051",
        timeout_sec=2.5,
        token="s3cret-token",
        tls=True,
        tls_ca="/etc/piinguin/ca.pem",
        tls_cert="/etc/piinguin/relay.pem",
        tls_key="/etc/piinguin/relay.key",
        bulk_size=1000,
        concurrency=8,
        fail_malformed=True,
        log_level="debug",
    )
    assert "s3cret" not in repr(config)


def test_an_empty_token_is_no_token() -> None:
    assert RelayConfig.from_environ({**TARGET, "PIINGUIN_TOKEN": ""}).token is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "PIINGUIN_TARGET (--target): required: the Piinguin server as host:port"),
        ({"PIINGUIN_TARGET": "nowhere"}, "PIINGUIN_TARGET (--target): target 'nowhere' is not"),
        (
            {**TARGET, "PIINGUIN_BULK_SIZE": "1001"},
            "PIINGUIN_BULK_SIZE (--bulk-size): must be between 1 and 1000, got 1001",
        ),
        (
            {**TARGET, "PIINGUIN_BULK_SIZE": "lots"},
            "--bulk-size (from PIINGUIN_BULK_SIZE): expected a whole number, got 'lots'",
        ),
        (
            {**TARGET, "PIINGUIN_CONCURRENCY": "0"},
            "PIINGUIN_CONCURRENCY (--concurrency): must be between 1 and 64, got 0",
        ),
        (
            {**TARGET, "PIINGUIN_TIMEOUT_SEC": "0"},
            "PIINGUIN_TIMEOUT_SEC (--timeout-sec): must be above 0 and at most 900, got 0.0",
        ),
        (
            {**TARGET, "PIINGUIN_TIMEOUT_SEC": "nan"},
            "PIINGUIN_TIMEOUT_SEC (--timeout-sec): must be above 0",
        ),
        (
            {**TARGET, "PIINGUIN_TLS": "maybe"},
            "--tls (from PIINGUIN_TLS): expected true or false, got 'maybe'",
        ),
        (
            {**TARGET, "PIINGUIN_FAIL_MALFORMED": "sometimes"},
            "--fail-malformed (from PIINGUIN_FAIL_MALFORMED): expected true or false",
        ),
        (
            {**TARGET, "PIINGUIN_TLS_CA": "/ca.pem"},
            "PIINGUIN_TLS_CA (--tls-ca): needs PIINGUIN_TLS=true",
        ),
        (
            {**TARGET, "PIINGUIN_TLS": "1", "PIINGUIN_TLS_CERT": "/relay.pem"},
            "PIINGUIN_TLS_KEY (--tls-key): mutual TLS needs both a certificate and its key",
        ),
        (
            {**TARGET, "PIINGUIN_TLS": "1", "PIINGUIN_TLS_KEY": "/relay.key"},
            "PIINGUIN_TLS_CERT (--tls-cert): mutual TLS needs both a certificate and its key",
        ),
        (
            {**TARGET, "PIINGUIN_TOKEN": "tab\tinside"},
            "PIINGUIN_TOKEN (--token): must be printable ASCII",
        ),
        (
            {**TARGET, "PIINGUIN_LOG_LEVEL": "loud"},
            "--log-level (from PIINGUIN_LOG_LEVEL): expected one of debug, info, warning, error",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(OptionError) as caught:
        RelayConfig.from_environ(environ)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_tls_contexts_load_the_files_and_name_the_one_at_fault(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    relay = authority.issue("relay")
    tls = {**TARGET, "PIINGUIN_TLS": "true"}
    assert RelayConfig.from_environ(TARGET).ssl_context() is None
    assert isinstance(RelayConfig.from_environ(tls).ssl_context(), ssl.SSLContext)
    mutual = {
        **tls,
        "PIINGUIN_TLS_CA": authority.pem.cert,
        "PIINGUIN_TLS_CERT": relay.cert,
        "PIINGUIN_TLS_KEY": relay.key,
    }
    assert isinstance(RelayConfig.from_environ(mutual).ssl_context(), ssl.SSLContext)

    missing = str(tmp_path / "missing.pem")
    with pytest.raises(OptionError, match=r"^PIINGUIN_TLS_CA \(--tls-ca\): cannot load '.*"):
        RelayConfig.from_environ({**mutual, "PIINGUIN_TLS_CA": missing}).ssl_context()
    with pytest.raises(OptionError, match=r"^PIINGUIN_TLS_CERT \(--tls-cert\): cannot load"):
        RelayConfig.from_environ({**mutual, "PIINGUIN_TLS_KEY": authority.pem.key}).ssl_context()
