"""``piinguin subject restrict|unrestrict`` and ``--restriction-ground`` on the reads."""

from __future__ import annotations

import json

import pytest

from tests.piinguin.cli.test_cli import piinguin
from tests.piinguin.client.conftest import Vault

JUSTIFIED = ("--basis", "legal-obligation", "--purpose", "DSR-18")
READ = ("--basis", "consent", "--purpose", "ticket 1")


async def test_restrict_refuses_reads_until_a_ground_or_unrestrict(vault: Vault) -> None:
    t = vault.target
    for key in ("k1", "k2"):
        assert (await piinguin("create", key, f"{key}@example.com", target=t)).code == 0

    restricted = await piinguin("subject", "restrict", "--pseudonym", "k1", *JUSTIFIED, target=t)
    refused = await piinguin("read", "k1", *READ, target=t)
    many = await piinguin("read-many", *READ, target=t, stdin="k2\nk1\n")
    grounded = await piinguin("read", "k1", *READ, "--restriction-ground", "legal-claims", target=t)
    lifted = await piinguin(
        "subject", "unrestrict", "--pseudonym", "k1", *JUSTIFIED, "--json", target=t
    )
    again = await piinguin("read", "k1", *READ, target=t)

    assert restricted.code == 0
    assert restricted.stdout.startswith("restricted 1 pseudonym at 20")
    assert restricted.stdout.endswith("\nk1\n")
    assert refused.code == 7
    assert refused.stdout == ""
    assert refused.stderr == (
        "piinguin: restricted at the data subject's request (GDPR Art. 18): state a "
        "restriction ground (read it with --restriction-ground GROUND)\n"
    )
    assert (many.code, many.stdout) == (7, "k2\tk2@example.com\n")
    assert many.stderr.startswith("piinguin: k1: restricted at the data subject's request")
    assert (grounded.code, grounded.stdout) == (0, "k1@example.com\n")
    answer = json.loads(lifted.stdout)
    assert (answer["operation"], answer["modified_values"]) == ("unrestrict", ["k1"])
    assert (again.code, again.stdout) == (0, "k1@example.com\n")


async def test_the_audit_command_prints_the_ground_a_read_stated(vault: Vault) -> None:
    t = vault.target
    await piinguin("create", "k1", "k1@example.com", target=t)
    await piinguin("read", "k1", *READ, "--restriction-ground", "public_interest", target=t)

    printed = await piinguin("audit", "--key", "k1", target=t)

    [event] = [json.loads(line) for line in printed.stdout.splitlines()]
    assert event["restriction_ground"] == "public_interest"


async def test_bad_arguments_exit_2_and_send_nothing(
    vault: Vault, capsys: pytest.CaptureFixture[str]
) -> None:
    t = vault.target
    ground = await piinguin("read", "k1", *READ, "--restriction-ground", "because", target=t)
    usage = capsys.readouterr().err  # argparse writes to the process's own stderr
    nobody = await piinguin("subject", "restrict", *JUSTIFIED, target=t)

    assert ground.code == 2
    assert "unknown restriction ground 'because'" in usage
    assert "subject_consent, legal_claims" in usage
    assert nobody.code == 2
    assert "name the person" in nobody.stderr
    assert vault.calls_to("ReadPiiRecord") == []
    assert vault.calls_to("RestrictSubject") == []
