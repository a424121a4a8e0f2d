"""The CLI's commands as ``piinguin --help`` lists them, ``health``, and ``audit``'s filters."""

from __future__ import annotations

import pytest

from tests.piinguin.cli.test_cli import Outcome, piinguin
from tests.piinguin.client.conftest import Vault

#: Every command, and the words of its one line that say where its input comes from.
SOURCES = {
    "create": "given as arguments",
    "create-many": "from FILE or stdin",
    "read": "the KEY argument",
    "delete": "the KEY argument",
    "read-many": "read from stdin",
    "delete-many": "read from stdin",
    "audit": "the filter options",
    "health": "reads no input",
    "subject": "data subject's rights",
}


async def test_help_gives_each_command_one_line_saying_where_it_reads_from(
    vault: Vault, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await piinguin("--help", target=vault.target)).code == 0
    listing = capsys.readouterr().out.split("\ncommands:\n")[1].split("\n\n")[0]
    # argparse wraps long lines: join each command's continuation lines back to it.
    lines: dict[str, str] = {}
    for row in listing.splitlines()[1:]:  # after the COMMAND metavar
        name, _, text = row.strip().partition(" ")
        if row.startswith("    ") and not row.startswith("     "):
            lines[name] = text.strip()
        else:
            last = list(lines)[-1]
            lines[last] += " " + row.strip()

    assert list(lines) == list(SOURCES)
    for name, words in SOURCES.items():
        assert words in lines[name], name


@pytest.mark.parametrize("command", list(SOURCES))
async def test_each_command_has_a_description_of_its_own(
    vault: Vault, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert (await piinguin(command, "--help", target=vault.target)).code == 0
    description = capsys.readouterr().out.split("\n\n")[1]
    assert SOURCES[command] in " ".join(description.split())


async def test_health_prints_serving_and_exits_0(vault: Vault) -> None:
    assert await piinguin("health", target=vault.target) == Outcome(0, "SERVING\n", "")


async def test_health_of_a_server_that_is_not_serving_exits_3(vault: Vault) -> None:
    vault.server.serving.set(False)

    assert await piinguin("health", target=vault.target) == Outcome(3, "NOT_SERVING\n", "")


async def test_health_of_an_unreachable_server_is_a_sentence(closed_target: str) -> None:
    assert await piinguin("health", target=closed_target) == Outcome(
        3, "", f"piinguin: unavailable: cannot reach {closed_target}: Connection refused\n"
    )


async def test_audit_without_a_filter_names_the_flags_and_calls_nothing(vault: Vault) -> None:
    outcome = await piinguin("audit", target=vault.target)

    assert outcome == Outcome(
        2, "", "piinguin: audit: give at least one of --key, --principal, --since and --until\n"
    )
    assert vault.calls == []


async def test_audit_with_only_a_time_filter_lists_events(vault: Vault) -> None:
    await piinguin("read", "k1", "--basis", "consent", "--purpose", "p", target=vault.target)

    outcome = await piinguin("audit", "--since", "2000-01-01", target=vault.target)

    assert outcome.code == 0
    assert '"lawful_basis": "consent"' in outcome.stdout
