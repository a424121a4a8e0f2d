"""The DynamoDB flags: defaults, flags over ``PIINGUIN_*`` variables, and one-line errors
that name the flag."""

from __future__ import annotations

import pytest

from piinguin.options import OptionError
from piinguin.server.config import ServerConfig

AUTH = ["--insecure-no-auth"]


def test_defaults_name_both_tables_and_leave_region_and_endpoint_to_aws() -> None:
    config = ServerConfig.from_args(AUTH, {})

    assert (config.table, config.audit_table) == ("piinguin", "piinguin-audit")
    assert (config.region, config.dynamodb_endpoint, config.create_table) == (None, None, False)


def test_flags_set_every_dynamodb_option() -> None:
    config = ServerConfig.from_args(
        [
            *AUTH,
            "--storage=dynamodb",
            "--table=pii",
            "--audit-table=pii.audit",
            "--dynamodb-endpoint=http://moto:5000",
            "--region=eu-west-1",
            "--create-table",
            "--keyring=kms:alias/piinguin",
            "--key-table=pii.keys",
        ],
        {},
    )

    assert config.storage == "dynamodb"
    assert (config.table, config.audit_table) == ("pii", "pii.audit")
    assert (config.dynamodb_endpoint, config.region) == ("http://moto:5000", "eu-west-1")
    assert config.create_table is True
    assert (config.keyring, config.key_table, config.vault_name) == (
        "kms:alias/piinguin",
        "pii.keys",
        "pii",
    )


def test_environment_sets_them_and_flags_win() -> None:
    environ = {
        "PIINGUIN_TABLE": "from-env",
        "PIINGUIN_AUDIT_TABLE": "audit-from-env",
        "PIINGUIN_DYNAMODB_ENDPOINT": "https://dynamodb.eu-west-1.amazonaws.com",
        "PIINGUIN_REGION": "eu-west-1",
        "PIINGUIN_CREATE_TABLE": "true",
    }

    config = ServerConfig.from_args([*AUTH, "--table", "from-flag"], environ)

    assert (config.table, config.audit_table) == ("from-flag", "audit-from-env")
    assert config.dynamodb_endpoint == "https://dynamodb.eu-west-1.amazonaws.com"
    assert (config.region, config.create_table) == ("eu-west-1", True)


@pytest.mark.parametrize(
    ("argv", "environ", "region"),
    [
        ([], {"AWS_REGION": "eu-north-1"}, "eu-north-1"),
        ([], {"AWS_REGION": "eu-north-1", "PIINGUIN_REGION": "eu-west-1"}, "eu-west-1"),
        (["--region", "us-west-2"], {"AWS_REGION": "eu-north-1"}, "us-west-2"),
        ([], {"AWS_DEFAULT_REGION": "eu-north-1"}, None),  # left to the AWS chain
    ],
)
def test_region_falls_back_to_aws_region(
    argv: list[str], environ: dict[str, str], region: str | None
) -> None:
    assert ServerConfig.from_args([*AUTH, *argv], environ).region == region


def test_empty_region_and_endpoint_variables_mean_unset() -> None:
    config = ServerConfig.from_args(AUTH, {"PIINGUIN_REGION": "", "PIINGUIN_DYNAMODB_ENDPOINT": ""})

    assert (config.region, config.dynamodb_endpoint) == (None, None)


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--region", "eu west 1"], {}, "--region: expected an AWS region name"),
        (["--region=-eu-west-1"], {}, "--region: expected an AWS region name"),
        (["--dynamodb-endpoint", "moto:5000"], {}, "--dynamodb-endpoint: expected an http://"),
        (["--dynamodb-endpoint", "http://"], {}, "--dynamodb-endpoint: expected an http://"),
        (["--dynamodb-endpoint", "http://moto:99999"], {}, "--dynamodb-endpoint: expected"),
        (["--dynamodb-endpoint", "http://moto:5000/?x=1"], {}, "--dynamodb-endpoint: expected"),
        (
            [],
            {"PIINGUIN_DYNAMODB_ENDPOINT": "ftp://moto"},
            "--dynamodb-endpoint: expected an http://",
        ),
        ([], {"PIINGUIN_REGION": "EU"}, "--region: expected an AWS region name"),
        (["--table", "ab"], {}, "--table: expected 3 to 255 letters"),
        (["--audit-table", "pii audit"], {}, "--audit-table: expected 3 to 255 letters"),
        (["--audit-table", "piinguin"], {}, "--audit-table: must not be the same table"),
        ([], {"PIINGUIN_CREATE_TABLE": "maybe"}, "--create-table (from PIINGUIN_CREATE_TABLE)"),
    ],
)
def test_a_bad_value_is_one_message_naming_the_flag(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(OptionError) as raised:
        ServerConfig.from_args([*AUTH, *argv], environ)

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_dynamodb_without_a_keyring_refuses_to_start_and_says_what_to_do() -> None:
    with pytest.raises(OptionError) as raised:
        ServerConfig.from_args([*AUTH, "--storage", "dynamodb"], {})

    assert str(raised.value) == (
        "--keyring: required with --storage dynamodb: local:PATH (make one with "
        "'piinguin-admin keyring create PATH') or kms:KEY_ID_OR_ARN; or give "
        "--insecure-no-encryption to keep storing originals in clear as before "
        "(see the README's upgrade note)"
    )


@pytest.mark.parametrize(
    ("argv", "environ", "keyring"),
    [
        (["--insecure-no-encryption"], {}, None),
        ([], {"PIINGUIN_INSECURE_NO_ENCRYPTION": "true"}, None),
        (
            [],
            {"PIINGUIN_KEYRING": "local:/etc/piinguin/keys.json"},
            "local:/etc/piinguin/keys.json",
        ),
        (["--keyring", "kms:alias/pii"], {"PIINGUIN_KEYRING": "local:k.json"}, "kms:alias/pii"),
    ],
)
def test_dynamodb_starts_with_a_keyring_or_the_insecure_flag(
    argv: list[str], environ: dict[str, str], keyring: str | None
) -> None:
    config = ServerConfig.from_args([*AUTH, "--storage", "dynamodb", *argv], environ)

    spec = config.keyring_spec
    assert (str(spec) if spec is not None else None) == keyring


def test_memory_encrypts_with_an_in_process_key_unless_told_otherwise() -> None:
    assert str(ServerConfig.from_args(AUTH, {}).keyring_spec) == "ephemeral"
    assert ServerConfig.from_args([*AUTH, "--insecure-no-encryption"], {}).keyring_spec is None


def test_the_vault_name_is_the_table_unless_given() -> None:
    assert ServerConfig.from_args([*AUTH, "--table", "pii"], {}).vault_name == "pii"
    restored = ServerConfig.from_args([*AUTH, "--table", "pii-restored", "--vault", "pii"], {})
    assert restored.vault_name == "pii"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--keyring", "local:k.json", "--insecure-no-encryption"],
            "--insecure-no-encryption: cannot be combined with --keyring",
        ),
        (["--keyring", "vault:k"], "--keyring: expected local:PATH or kms:KEY_ID_OR_ARN"),
        (["--keyring", "kms:"], "--keyring: expected local:PATH or kms:KEY_ID_OR_ARN"),
        (
            ["--storage", "dynamodb", "--keyring", "ephemeral"],
            "--keyring: ephemeral keys die with the process",
        ),
        (["--key-table", "piinguin"], "--key-table: must differ from --table"),
        (["--key-table", "a b"], "--key-table: expected 3 to 255 letters"),
        (["--vault", "x"], "--vault: expected 3 to 255 letters"),
    ],
)
def test_bad_encryption_settings_are_one_message_naming_the_flag(
    argv: list[str], message: str
) -> None:
    with pytest.raises(OptionError) as raised:
        ServerConfig.from_args([*AUTH, *argv], {})

    assert str(raised.value).startswith(message)
