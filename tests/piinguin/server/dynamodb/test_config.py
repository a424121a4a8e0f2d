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
        ],
        {},
    )

    assert config.storage == "dynamodb"
    assert (config.table, config.audit_table) == ("pii", "pii.audit")
    assert (config.dynamodb_endpoint, config.region) == ("http://moto:5000", "eu-west-1")
    assert config.create_table is True


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
