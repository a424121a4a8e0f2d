"""``piinguin create-many``: TSV or JSON lines from a file or stdin, in batches."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from piinguin.cli.importing import parse_tsv
from piinguin.client import PiinguinClient, PiiRecord
from storage import Record
from tests.piinguin.cli.test_cli import AWKWARD, Outcome, piinguin
from tests.piinguin.client.conftest import Vault

SECRET = "pii-canary@example.com"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def stored(vault: Vault, *keys: str) -> list[Record | None]:
    found = await vault.storage.get_many(list(keys))
    return [r if isinstance(r, Record) else None for r in found]


async def test_tsv_lines_from_stdin_are_stored_and_bad_lines_reported_by_number(
    vault: Vault, log_output: Callable[[], str]
) -> None:
    stdin = (
        f"k1\t{SECRET}\n"
        "\n"  # blank: skipped silently
        f"{SECRET}\n"  # no tab: reported by number, never quoted
        f" k2 \ta value\twith a tab\r\n"
        "k3\t\n"  # an empty value: the server refuses this item only
    )

    outcome = await piinguin("create-many", target=vault.target, stdin=stdin)

    assert outcome == Outcome(
        2,
        "",
        "piinguin: <stdin>:3: expected KEY<TAB>VALUE, found no tab\n"
        "piinguin: <stdin>:5: invalid argument: records[2]: original_value is empty\n",
    )
    k1, k2, k3 = await stored(vault, "k1", "k2", "k3")
    assert (k1 and k1.original_value, k2 and k2.original_value) == (SECRET, "a value\twith a tab")
    assert k3 is None
    assert SECRET not in log_output()


async def test_what_read_many_json_prints_imports_back_with_its_provenance(
    vault: Vault, client: PiinguinClient
) -> None:
    tstamp = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    await client.create_record(
        PiiRecord(
            modified_value="k1", original_value=SECRET, field_name="contexts",
            json_path="$.email", schema="iglu:com.acme/user/jsonschema/1-0-0",
            hash_function="SHA-256", app_id="shop", collector_tstamp=tstamp,
        )
    )  # fmt: skip
    await client.create_record(PiiRecord(modified_value="k2", original_value="v2"))
    read = ("read-many", "--basis", "consent", "--purpose", "export")
    exported = await piinguin(*read, "--json", target=vault.target, stdin="k1\nk2\n")
    assert (exported.code, len(exported.stdout.splitlines())) == (0, 2)
    await piinguin("delete-many", target=vault.target, stdin="k1\nk2\n")
    assert len(vault.storage) == 0

    imported = await piinguin("create-many", "--json", target=vault.target, stdin=exported.stdout)

    assert imported == Outcome(0, "", "")
    again = await piinguin(*read, "--json", target=vault.target, stdin="k1\nk2\n")

    def provenance(out: str) -> list[dict[str, object]]:
        records = [json.loads(line) for line in out.splitlines()]
        return [
            {k: v for k, v in r.items() if k not in {"created_at", "updated_at"}} for r in records
        ]

    assert provenance(again.stdout) == provenance(exported.stdout)
    [k1, _] = await stored(vault, "k1", "k2")
    assert k1 is not None
    assert (k1.json_path, k1.collector_tstamp) == ("$.email", tstamp)


async def test_json_lines_in_protobuf_names_are_accepted(vault: Vault) -> None:
    line = json.dumps({"modifiedValue": "k1", "originalValue": SECRET, "appId": "shop"})

    assert await piinguin("create-many", "--json", target=vault.target, stdin=line) == Outcome(
        0, "", ""
    )
    [k1] = await stored(vault, "k1")
    assert k1 is not None
    assert (k1.original_value, k1.app_id) == (SECRET, "shop")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"{SECRET}", "not a JSON object"),
        (f'["{SECRET}"]', "not a JSON object"),
        (f'{{"modified_value": "k", "{SECRET}": 1, "original_value": "v"}}', "1 unknown field(s)"),
        (f'{{"original_value": "{SECRET}"}}', "modified_value is missing"),
        ('{"modified_value": "k"}', "original_value is missing"),
        ('{"modified_value": "k", "original_value": 42}', "original_value must be a string"),
        (
            f'{{"modified_value": "k", "original_value": "v", "collector_tstamp": "{SECRET}"}}',
            "collector_tstamp must be an ISO-8601 time such as 2026-11-01T00:00:00Z",
        ),
    ],
)
async def test_a_bad_json_line_is_reported_without_its_content(
    vault: Vault, line: str, problem: str
) -> None:
    good = json.dumps({"modified_value": "good", "original_value": "v"})

    outcome = await piinguin("create-many", "--json", target=vault.target, stdin=f"{line}\n{good}")

    assert outcome.code == 2
    assert outcome.stderr.startswith(f"piinguin: <stdin>:1: {problem}")
    assert outcome.stderr.count("\n") == 1
    assert SECRET not in outcome.stderr
    assert await stored(vault, "good") != [None]


async def test_a_file_is_read_in_batches_with_progress_and_a_summary_on_a_terminal(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("piinguin.progress.INTERVAL", 0.0)  # draw after every batch
    path = tmp_path / "records.tsv"
    path.write_bytes(b"".join(f"k{i}\tv{i}\n".encode() for i in range(7)) + b"k7\t\xff\n")
    stderr = Terminal()

    code = await piinguin_with(stderr, "create-many", str(path), "--batch-size", "3", vault=vault)

    assert code == 2
    assert len(vault.calls) == 3  # 3 + 3 + 1 records; the last line is not UTF-8
    assert len(vault.storage) == 7
    drawn = [part for part in stderr.getvalue().split("\r\x1b[K") if "lines/s" in part]
    size = path.stat().st_size
    assert drawn[0].startswith(f"3 lines · {18 / size:.0%} of {size} B · ")
    assert drawn[-1].startswith(f"8 lines · 100% of {size} B · ")
    assert all(" · ETA " in part for part in drawn)
    assert f"\r\x1b[Kpiinguin: {path}:8: not UTF-8\n" in stderr.getvalue()
    assert stderr.getvalue().endswith(
        f"\r\x1b[Kpiinguin: create-many: 8 lines from {path}: 7 records written, 0 failed,"
        " 1 line skipped\n"
    )


async def piinguin_with(stderr: io.StringIO, *argv: str, vault: Vault) -> int:
    from piinguin.cli.main import main

    return await main(
        argv, {"PIINGUIN_TARGET": vault.target}, stdin=io.StringIO(), stdout=io.StringIO(),
        stderr=stderr,
    )  # fmt: skip


async def test_a_missing_file_exits_2(vault: Vault, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.tsv"

    outcome = await piinguin("create-many", str(missing), target=vault.target)

    assert outcome == Outcome(
        2, "", f"piinguin: create-many: cannot read {missing}: No such file or directory\n"
    )
    assert vault.calls == []


async def test_what_read_many_prints_imports_back_value_for_value(vault: Vault) -> None:
    await vault.storage.put_many([Record(k, v) for k, v in AWKWARD.items()])
    read = ("read-many", "--basis", "consent", "--purpose", "export")
    exported = await piinguin(*read, target=vault.target, stdin="\n".join(AWKWARD))
    assert exported.code == 0
    assert (await piinguin("delete-many", target=vault.target, stdin=exported.stdout)).code == 0
    assert len(vault.storage) == 0

    imported = await piinguin("create-many", target=vault.target, stdin=exported.stdout)

    assert imported == Outcome(0, "", "")
    records = await stored(vault, *AWKWARD)
    assert [r.original_value if r else None for r in records] == list(AWKWARD.values())


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("plain", "plain"),
        ("C:\\data\\x", "C:\\data\\x"),  # \d and \x are no escapes: kept as written
        ("ends in \\", "ends in \\"),
        ("a\\\\tb", "a\\tb"),
        ("\\t\\n\\r\\\\", "\t\n\r\\"),
    ],
)
def test_tsv_values_are_unescaped_as_read_many_escapes_them(column: str, value: str) -> None:
    assert parse_tsv(f"k\t{column}").original_value == value
