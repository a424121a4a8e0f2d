"""``piinguin subject find|export`` against a running server with encryption at rest."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import token_digest
from storage import Record
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryStorage
from tests import conftest
from tests.piinguin.cli.test_cli import Outcome, piinguin

VALUE = "alice+canary@example.com"
JUSTIFIED = ("--basis", "legal-obligation", "--purpose", "DSR-9")
Vault = conftest.Vault[EncryptedStorage]


@pytest.fixture
async def sealed() -> AsyncIterator[Vault]:
    storage = EncryptedStorage(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")
    await storage.put_many(
        [Record("k-user", VALUE, "user_id", app_id="shop"), Record("k-ctx", VALUE, "contexts")]
    )
    async with conftest.running_vault(storage, grace_period=0) as vault:
        yield vault


async def test_find_prints_one_line_per_pseudonym_never_the_value(
    sealed: Vault, log_output: Callable[[], str]
) -> None:
    outcome = await piinguin(
        "subject",
        "find",
        "-",
        "--field",
        "user_id",
        *JUSTIFIED,
        target=sealed.target,
        stdin=VALUE + "\n",
    )

    assert (outcome.code, outcome.stderr) == (0, "")
    [line] = outcome.stdout.splitlines()
    key, field, app, first, last, found_by, restricted = line.split("\t")
    assert (key, field, app, found_by, restricted) == (
        "k-user",
        "user_id",
        "shop",
        "blind_index",
        "-",
    )
    assert first.startswith("20")
    assert last.startswith("20")
    assert VALUE not in outcome.stdout
    assert VALUE not in log_output()


async def test_find_json_and_a_named_pseudonym(sealed: Vault) -> None:
    outcome = await piinguin(
        "subject",
        "find",
        VALUE,
        "--pseudonym",
        "k-none",
        "--json",
        *JUSTIFIED,
        target=sealed.target,
    )

    assert outcome.code == 0
    answer = json.loads(outcome.stdout)
    assert [r["modified_value"] for r in answer["records"]] == ["k-ctx", "k-user"]
    assert answer["complete"] is True
    assert VALUE not in outcome.stdout


async def test_find_of_nobody_exits_1_and_bad_usage_exits_2(sealed: Vault) -> None:
    nobody = await piinguin("subject", "find", "bob@example.com", *JUSTIFIED, target=sealed.target)
    unnamed = await piinguin("subject", "find", *JUSTIFIED, target=sealed.target)
    twice = await piinguin("subject", "find", "-", "-", *JUSTIFIED, target=sealed.target)
    unjustified = await piinguin(
        "subject", "find", VALUE, "--basis", "consent", "--purpose", " ", target=sealed.target
    )

    assert nobody == Outcome(1, "", "")
    assert unnamed.code == twice.code == unjustified.code == 2
    assert "name the person" in unnamed.stderr
    assert "at most once" in twice.stderr
    assert "purpose is required" in unjustified.stderr
    assert len(sealed.calls_to("FindSubject")) == 2  # nobody, unjustified


async def test_export_with_force_never_writes_through_a_symlink(
    sealed: Vault, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("untouched")
    output = tmp_path / "export.json"
    output.symlink_to(target)
    argv = ("subject", "export", "--pseudonym", "k-user", *JUSTIFIED, "--output", str(output))

    outcome = await piinguin(*argv, "--force", target=sealed.target)

    assert outcome.code == 2
    assert "cannot write" in outcome.stderr
    assert target.read_text() == "untouched"


async def test_export_with_json_prints_the_document(sealed: Vault) -> None:
    outcome = await piinguin("subject", "export", VALUE, *JUSTIFIED, "--json", target=sealed.target)

    assert outcome.code == 0
    document = json.loads(outcome.stdout)
    assert {r["original_value"] for r in document["records"]} == {VALUE}


async def test_export_without_json_is_for_a_person_to_read(sealed: Vault) -> None:
    outcome = await piinguin("subject", "export", VALUE, *JUSTIFIED, target=sealed.target)

    assert outcome.code == 0
    lines = outcome.stdout.splitlines()
    assert lines[0].startswith(f"{VALUE}  (field ")
    assert any(line.split() == ["pseudonym", "k-user"] for line in lines)
    assert any(line.startswith("recipients") for line in lines)
    with pytest.raises(json.JSONDecodeError):
        json.loads(outcome.stdout)


async def test_export_writes_a_new_owner_only_file_and_replaces_one_only_with_force(
    sealed: Vault, tmp_path: Path
) -> None:
    output = tmp_path / "export.json"
    argv = ("subject", "export", "--pseudonym", "k-user", *JUSTIFIED, "--output", str(output))

    written = await piinguin(*argv, target=sealed.target)
    output.chmod(0o644)
    output.write_text("kept")
    refused = await piinguin(*argv, target=sealed.target)
    kept = output.read_text()
    forced = await piinguin(*argv, "--force", target=sealed.target)

    assert written == Outcome(0, "", "")
    assert refused.code == 2
    assert "exists; give --force" in refused.stderr
    assert kept == "kept"
    assert forced == Outcome(0, "", "")
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    [record] = json.loads(output.read_text())["records"]
    assert record["original_value"] == VALUE
    # The refused export was never asked of the server.
    assert len(sealed.calls_to("ExportSubject")) == 2


async def test_a_refused_export_exits_4(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[principals.reader]\ntoken_sha256 = ["{token_digest("reader-token-1")}"]\n'
        'operations = ["read"]\nlawful_bases = ["legal_obligation"]\n'
    )
    async with conftest.running_vault(
        MemoryStorage(), auth=Authenticator.from_file(policy), grace_period=0
    ) as vault:
        outcome = await piinguin(
            "subject",
            "export",
            VALUE,
            *JUSTIFIED,
            target=vault.target,
            environ={"PIINGUIN_TOKEN": "reader-token-1"},
        )

    assert outcome.code == 4
    assert "permission denied: principal 'reader' may not export" in outcome.stderr
