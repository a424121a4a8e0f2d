"""The token and the TLS material from Secrets Manager and SSM Parameter Store (moto, in
server mode over HTTP): read once per cold start, used, and never logged."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import Policy, token_digest
from piinguin.options import OptionError
from piinguin.tls import server_context
from relay import handler as lambda_handler
from relay.config import RelayConfig
from relay.runner import main as runner_main
from relay.secrets import SecretRef, SecretUnavailable, fetch_secret, parse_secret_arn
from tests.doubles import FaultyStorage
from tests.piinguin.access.certs import Authority
from tests.relay.factory import kinesis_record, lambda_event, pii_line, pojo_item, sequence_number

from .aws import Aws
from .servers import LambdaContext, RelayFactory, invoke, serving

TOKEN = "relay-token-from-secrets-manager-7f3a"
ROTATED = "relay-token-rotated-later-91bc"
SM_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:piinguin/relay-token-AbCdEf"
SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/piinguin/relay/token"
TARGET = {"PIINGUIN_TARGET": "piinguin.internal:50051"}
ORIGINAL = "pii-canary-secret@example.org"


def writers(**grants: dict[str, Any]) -> Authenticator:
    return Authenticator(Policy.from_document({"principals": grants}))


def event(n: int = 1) -> dict[str, Any]:
    return lambda_event(kinesis_record(pii_line([pojo_item("user_id", f"{n}{ORIGINAL}")]), n))


def test_an_arn_names_its_service_and_region() -> None:
    assert parse_secret_arn(SM_ARN) == SecretRef(SM_ARN, "secretsmanager", "eu-west-1")
    assert parse_secret_arn(SSM_ARN) == SecretRef(SSM_ARN, "ssm", "eu-west-1")
    gov = "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/token"
    assert parse_secret_arn(gov).region == "us-gov-west-1"
    for bad in ("piinguin/relay-token", "arn:aws:s3:::bucket/key", SM_ARN.replace(":secret:", ":")):
        with pytest.raises(ValueError, match="expected the ARN of a Secrets Manager secret"):
            parse_secret_arn(bad)


def test_a_token_given_where_its_arn_belongs_is_never_echoed() -> None:
    """PIINGUIN_TOKEN_SECRET names the secret; a token pasted there by mistake must not
    reach the error, which Lambda logs."""
    for environ in (
        {"PIINGUIN_TOKEN_SECRET": TOKEN},
        {"PIINGUIN_TLS": "1", "PIINGUIN_TLS_KEY_SECRET": TOKEN, "PIINGUIN_TLS_CERT_SECRET": SM_ARN},
    ):
        with pytest.raises(OptionError) as caught:
            RelayConfig.from_environ({**TARGET, **environ})
        assert "expected the ARN of a Secrets Manager secret" in str(caught.value)
        assert TOKEN not in str(caught.value)
        assert TOKEN[:8] not in str(caught.value)


async def test_secrets_manager_and_both_kinds_of_ssm_parameter_are_read(aws: Aws) -> None:
    arns = [
        await aws.secret(TOKEN + "\n"),
        await aws.parameter("PEM secure"),
        await aws.parameter("PEM plain", secure=False),
    ]
    values = [await asyncio.to_thread(fetch_secret, parse_secret_arn(arn)) for arn in arns]
    assert values == [TOKEN + "\n", "PEM secure", "PEM plain"]
    missing = arns[0].replace("piinguin/relay-", "piinguin/absent-")
    with pytest.raises(SecretUnavailable, match=r"^ResourceNotFoundException$"):
        await asyncio.to_thread(fetch_secret, parse_secret_arn(missing))


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"PIINGUIN_TOKEN_SECRET": "piinguin/relay-token"},
            "PIINGUIN_TOKEN_SECRET (--token-secret): expected the ARN of a Secrets Manager",
        ),
        (
            {"PIINGUIN_TOKEN": "t", "PIINGUIN_TOKEN_SECRET": SM_ARN},
            "PIINGUIN_TOKEN_SECRET (--token-secret): give this or PIINGUIN_TOKEN, not both",
        ),
        (
            {"PIINGUIN_TLS": "1", "PIINGUIN_TLS_CA": "/ca.pem", "PIINGUIN_TLS_CA_SECRET": SSM_ARN},
            "PIINGUIN_TLS_CA_SECRET (--tls-ca-secret): give this or PIINGUIN_TLS_CA, not both",
        ),
        (
            {"PIINGUIN_TLS_KEY_SECRET": SSM_ARN},
            "PIINGUIN_TLS_KEY_SECRET (--tls-key-secret): needs PIINGUIN_TLS=true",
        ),
        (
            {"PIINGUIN_TLS": "1", "PIINGUIN_TLS_CERT_SECRET": SM_ARN},
            "PIINGUIN_TLS_KEY (--tls-key): mutual TLS needs both a certificate and its key",
        ),
    ],
)
def test_a_bad_secret_setting_is_one_line_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(OptionError) as caught:
        RelayConfig.from_environ({**TARGET, **environ})
    assert str(caught.value).startswith(message)


async def test_a_secret_that_cannot_be_read_names_the_variable_and_the_arn(aws: Aws) -> None:
    missing = SM_ARN.replace("123456789012", "000000000000")
    config = RelayConfig.from_environ({**TARGET, "PIINGUIN_TOKEN_SECRET": missing})
    with pytest.raises(OptionError) as caught:
        await asyncio.to_thread(config.credentials)
    assert str(caught.value) == (
        f"PIINGUIN_TOKEN_SECRET (--token-secret): cannot read {missing}: ResourceNotFoundException"
    )
    unprintable = await aws.secret("tab\tinside-" + TOKEN)
    config = RelayConfig.from_environ({**TARGET, "PIINGUIN_TOKEN_SECRET": unprintable})
    with pytest.raises(OptionError, match=r"must hold printable ASCII$") as caught:
        await asyncio.to_thread(config.credentials)
    assert TOKEN not in str(caught.value)


async def test_the_lambda_reads_its_token_once_per_cold_start(
    aws: Aws,
    lambda_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_output: Callable[[], str],
) -> None:
    """The token is read when the process's relay is created: rotating the secret
    changes nothing for a warm process, and the next cold start reads the new value."""
    arn = await aws.secret(TOKEN)
    auth = writers(relay={"token_sha256": [token_digest(TOKEN)], "operations": ["write"]})
    async with serving(FaultyStorage(), auth=auth) as vault:
        monkeypatch.setenv("PIINGUIN_TARGET", vault.target)
        monkeypatch.setenv("PIINGUIN_TOKEN_SECRET", arn)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "relay-under-test")

        def run(n: int) -> lambda_handler.BatchResponse:
            return lambda_handler.handler(event(n), LambdaContext())

        assert await asyncio.to_thread(run, 1) == {"batchItemFailures": []}
        await aws.rotate(arn, ROTATED)  # the server's policy knows only the first token
        assert await asyncio.to_thread(run, 2) == {"batchItemFailures": []}
        assert len(vault.storage.inner) == 2
        await asyncio.to_thread(lambda_handler.close)  # the process ends; a new one starts
        answer = await asyncio.to_thread(run, 3)
        assert answer == {"batchItemFailures": [{"itemIdentifier": sequence_number(3)}]}
        assert "UNAUTHENTICATED" in log_output()
    output = log_output() + capsys.readouterr().out
    for secret in (TOKEN, ROTATED, ORIGINAL):
        assert secret not in output


async def test_mutual_tls_from_a_parameter_and_secrets(
    aws: Aws,
    tmp_path: Path,
    make_relay: RelayFactory,
    monkeypatch: pytest.MonkeyPatch,
    log_output: Callable[[], str],
) -> None:
    """The CA from a plain SSM parameter, the certificate from Secrets Manager, the key
    from a SecureString: the server knows the relay by its certificate alone. The PEMs
    pass through a private temporary folder, removed once loaded."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    authority = Authority(tmp_path)
    server, client = authority.issue("localhost", server=True), authority.issue("relay")
    ca_pem, cert_pem, key_pem = (
        Path(name).read_text()  # noqa: ASYNC240  (small local files, in a test)
        for name in (authority.pem.cert, client.cert, client.key)
    )
    secrets = {
        "tls_ca_secret": await aws.parameter(ca_pem, secure=False),
        "tls_cert_secret": await aws.secret(cert_pem),
        "tls_key_secret": await aws.parameter(key_pem),
    }
    context = server_context(server.cert, server.key, client_ca=authority.pem.cert)
    auth = writers(relay={"operations": ["write"]})  # no token: the certificate's name
    async with serving(FaultyStorage(), ssl_context=context, auth=auth) as vault:
        relay = await asyncio.to_thread(make_relay, target=vault.target, tls=True, **secrets)
        assert await invoke(relay, event()) == {"batchItemFailures": []}
        assert len(vault.storage.inner) == 1
    assert "BEGIN" not in log_output()
    assert list(scratch.iterdir()) == []


async def test_a_ca_secret_without_a_certificate_names_the_secret(aws: Aws) -> None:
    arn = await aws.parameter("not a certificate", secure=False)
    config = RelayConfig(target="localhost:1", tls=True, tls_ca_secret=arn)
    with pytest.raises(OptionError, match=r"^PIINGUIN_TLS_CA_SECRET \(--tls-ca-secret\): cannot"):
        await asyncio.to_thread(config.credentials)


async def test_piinguin_relay_takes_the_token_from_a_secret_too(
    aws: Aws, log_output: Callable[[], str]
) -> None:
    arn = await aws.secret(TOKEN)
    auth = writers(relay={"token_sha256": [token_digest(TOKEN)], "operations": ["write"]})
    line = pii_line([pojo_item("user_id", ORIGINAL)]).encode() + b"\n"
    async with serving(FaultyStorage(), auth=auth) as vault:
        code = await asyncio.to_thread(
            runner_main,
            ["--target", vault.target, "--token-secret", arn],
            {},
            stdin=io.BytesIO(line),
            stderr=io.StringIO(),
            configure_logs=False,
        )
        assert code == 0
        assert len(vault.storage.inner) == 1
    summary = [json.loads(x) for x in log_output().splitlines() if "relay_summary" in x]
    assert summary[0]["written"] == 1
    assert TOKEN not in log_output()
