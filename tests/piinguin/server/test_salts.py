"""``--pii-salts``: the file's errors name the file and the key, never a salt; salts come
from files and from Secrets Manager (moto in server mode); the start log names the
epochs, never a salt; the entry point hands them to the service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aioboto3
import pytest

from piinguin.client import LawfulBasis, PiinguinClient, PiiRecord
from piinguin.options import OptionError
from piinguin.server.config import ServerConfig
from piinguin.server.main import pii_salts
from piinguin.server.salts import SaltsError, load_salts, parse_salts
from piinguin.services.subjects import SaltEpoch
from storage.subjects import snowplow_pseudonym
from tests.conftest import running_entry_point
from tests.dynamodb_fixtures import REGION

SALT = "s3cr3t-canary-salt-0b7"
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pii-salt"


def salts_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "salts.toml"
    path.write_text(text)
    return path


async def test_salts_come_from_files_one_final_newline_dropped(tmp_path: Path) -> None:
    (tmp_path / "2024").write_text(SALT + "\n")
    (tmp_path / "2025").write_text(" spaced salt \n\n")
    path = salts_file(
        tmp_path,
        f"""
[[epochs]]
name = "2024"
salt_file = "{tmp_path / "2024"}"
hash_functions = ["SHA-256"]
[[epochs]]
name = "2025"
salt_file = "{tmp_path / "2025"}"
hash_functions = ["sha256", "MD5", "SHA-256"]
""",
    )

    epochs = await load_salts(path)

    assert epochs == [
        SaltEpoch("2024", SALT, ("SHA-256",)),
        SaltEpoch("2025", " spaced salt \n", ("SHA-256", "MD5")),
    ]
    assert SALT not in repr(epochs)
    assert SALT not in str(epochs)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("epochs = [", "not TOML"),
        ("", "needs at least one [[epochs]]"),
        ("salt = 'x'", "unknown key 'salt'"),
        ('[[epochs]]\nname = "a"\nhash_functions = ["MD5"]', "epochs[0]: give exactly one"),
        (
            f'[[epochs]]\nname = "a"\nsalt_file = "f"\nsalt_secret = "{ARN}"\n'
            'hash_functions = ["MD5"]',
            "epochs[0]: give exactly one",
        ),
        ('[[epochs]]\nname = "a"\nsalt_file = "f"', "epochs[0].hash_functions: a non-empty"),
        (
            '[[epochs]]\nname = "a"\nsalt_file = "f"\nhash_functions = ["SHA-3"]',
            "epochs[0].hash_functions: unknown 'SHA-3'",
        ),
        ('[[epochs]]\nname = ""\nsalt_file = "f"\nhash_functions = ["MD5"]', "epochs[0].name"),
        (
            '[[epochs]]\nname = "a"\nsalt_file = "f"\nhash_functions = ["MD5"]\n'
            '[[epochs]]\nname = "a"\nsalt_file = "g"\nhash_functions = ["MD5"]',
            "epochs[1].name: 'a' is used twice",
        ),
        (
            f'[[epochs]]\nname = "a"\nsalt_secret = "{SALT}"\nhash_functions = ["MD5"]',
            "epochs[0].salt_secret: expected the ARN",
        ),
        (
            f'[[epochs]]\nname = "a"\nsalt = "{SALT}"\nhash_functions = ["MD5"]',
            "epochs[0]: unknown key 'salt'",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key_never_a_salt(
    text: str, says: str
) -> None:
    with pytest.raises(SaltsError) as caught:
        parse_salts(text, source="/etc/piinguin/salts.toml")

    message = str(caught.value)
    assert message.startswith("/etc/piinguin/salts.toml: ")
    assert says in message
    assert SALT not in message


async def test_unreadable_and_empty_salts_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    for salt_file, says in ((tmp_path / "missing", "cannot read"), (tmp_path / "empty", "empty")):
        path = salts_file(
            tmp_path,
            f'[[epochs]]\nname = "a"\nsalt_file = "{salt_file}"\nhash_functions = ["MD5"]',
        )
        with pytest.raises(SaltsError) as caught:
            await load_salts(path)
        assert str(caught.value).startswith(f"{path}: epochs[0]")
        assert says in str(caught.value)
    with pytest.raises(SaltsError, match="cannot read"):
        await load_salts(tmp_path / "nowhere.toml")


@pytest.fixture
def secrets_manager(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Secrets Manager at moto, reached as the server reaches it: by botocore's
    per-service endpoint variable and the credential chain."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return moto_endpoint


async def test_a_salt_comes_from_secrets_manager(tmp_path: Path, secrets_manager: str) -> None:
    session = aioboto3.Session(region_name=REGION)
    async with session.client("secretsmanager", endpoint_url=secrets_manager) as client:
        created = await client.create_secret(Name=f"pii-salt-{tmp_path.name}", SecretString=SALT)
    missing = created["ARN"].replace("pii-salt", "no-such-salt")
    path = salts_file(
        tmp_path,
        f'[[epochs]]\nname = "2025"\nsalt_secret = "{created["ARN"]}"\nhash_functions = ["MD2"]',
    )

    assert await load_salts(path) == [SaltEpoch("2025", SALT, ("MD2",))]

    path.write_text(
        f'[[epochs]]\nname = "2025"\nsalt_secret = "{missing}"\nhash_functions = ["MD2"]'
    )
    with pytest.raises(SaltsError) as caught:
        await load_salts(path)
    assert str(caught.value) == (
        f"{path}: epochs[0].salt_secret: Secrets Manager answered ResourceNotFoundException"
    )


async def test_the_start_log_names_the_epochs_never_a_salt(
    tmp_path: Path, log_output: Callable[[], str]
) -> None:
    (tmp_path / "salt").write_text(SALT)
    path = salts_file(
        tmp_path,
        f'[[epochs]]\nname = "2024"\nsalt_file = "{tmp_path / "salt"}"\n'
        'hash_functions = ["SHA-256", "MD5"]',
    )
    config = ServerConfig(insecure_no_auth=True, pii_salts=str(path))

    epochs = await pii_salts(config)

    assert [e.name for e in epochs] == ["2024"]
    logs = log_output()
    assert "2024 (SHA-256, MD5)" in logs
    assert SALT not in logs
    with pytest.raises(OptionError, match="--pii-salts"):
        await pii_salts(ServerConfig(insecure_no_auth=True, pii_salts=str(tmp_path / "x")))


def test_the_flag_and_its_environment_variable() -> None:
    by_flag = ServerConfig.from_args(["--insecure-no-auth", "--pii-salts", "/s.toml"], {})
    by_env = ServerConfig.from_args(["--insecure-no-auth"], {"PIINGUIN_PII_SALTS": "/e.toml"})

    assert (by_flag.pii_salts, by_env.pii_salts) == ("/s.toml", "/e.toml")


@pytest.mark.socket
async def test_the_entry_point_finds_by_recomputation_with_the_file_s_salts(
    tmp_path: Path, log_output: Callable[[], str]
) -> None:
    (tmp_path / "salt").write_text(SALT + "\n")
    path = salts_file(
        tmp_path,
        f'[[epochs]]\nname = "2024"\nsalt_file = "{tmp_path / "salt"}"\n'
        'hash_functions = ["SHA-256"]',
    )
    config = ServerConfig(
        port=0, insecure_no_auth=True, insecure_no_encryption=True, pii_salts=str(path)
    )
    value = "jane+canary@example.org"
    key = snowplow_pseudonym(value, SALT, "SHA-256")

    async with (
        running_entry_point(config) as entry,
        PiinguinClient(f"127.0.0.1:{entry.port}") as client,
    ):
        await client.create_record(PiiRecord(modified_value=key, original_value=value))
        found = await client.find_subject(
            values=[value], basis=LawfulBasis.CONSENT, purpose="DSR-1"
        )

    assert [(r.modified_value, r.found_by) for r in found.records] == [
        (key, ["snowplow_hash:2024"])
    ]
    assert SALT not in log_output()
    assert value not in log_output()
