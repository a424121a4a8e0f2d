"""The ``piinguin`` CLI end to end: ``cli.main`` in process, and the installed console script."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from grpclib.const import Status

from piinguin.cli.main import main
from storage import Record
from storage.audit import AuditQuery
from tests.doubles import HANG
from tests.piinguin.client.conftest import MAX_BULK_ITEMS, MAX_MESSAGE_BYTES, Scripted, Vault

VALUE = "alice@example.com"
CONSOLE_SCRIPT = Path(sys.executable).with_name("piinguin")


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


async def piinguin(
    *argv: str, target: str, stdin: str = "", environ: Mapping[str, str] | None = None
) -> Outcome:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = await main(
        argv,
        {"PIINGUIN_TARGET": target, **(environ or {})},
        stdin=io.StringIO(stdin),
        stdout=stdout,
        stderr=stderr,
    )
    return Outcome(code, stdout.getvalue(), stderr.getvalue())


async def test_create_read_delete_then_not_found(vault: Vault) -> None:
    t = vault.target
    assert await piinguin("create", "k1", VALUE, target=t) == Outcome(0, "", "")
    assert await piinguin(
        "read", "k1", "--basis", "consent", "--purpose", "support ticket 42", target=t
    ) == Outcome(0, VALUE + "\n", "")
    assert await piinguin("delete", "k1", target=t) == Outcome(0, "", "")

    gone = await piinguin("read", "k1", "--basis", "consent", "--purpose", "again", target=t)

    assert gone == Outcome(1, "", "piinguin: not found: no record is stored under this key\n")
    assert len(vault.storage) == 0


async def test_read_json_prints_the_record_with_its_provenance(vault: Vault) -> None:
    t = vault.target
    created = await piinguin(
        "create", "k1", VALUE, "--field-name", "user_id", "--app-id", "shop", target=t
    )
    assert created.code == 0

    read = await piinguin(
        "read", "k1", "--basis", "contract", "--purpose", "audit", "--json", target=t
    )

    assert read.code == 0
    record = json.loads(read.stdout)
    assert record["modified_value"] == "k1"
    assert record["original_value"] == VALUE
    assert (record["field_name"], record["app_id"], record["hash_function"]) == (
        "user_id",
        "shop",
        "",
    )
    assert record["created_at"].endswith("Z")


async def test_create_reads_the_value_from_stdin_when_it_is_a_dash(vault: Vault) -> None:
    outcome = await piinguin("create", "k1", "-", target=vault.target, stdin=VALUE + "\n")

    assert outcome.code == 0
    [stored] = await vault.storage.get_many(["k1"])
    assert isinstance(stored, Record)
    assert stored.original_value == VALUE


@pytest.mark.parametrize(
    "basis", ["consent", "legitimate-interests", "legitimate_interests", "Legal_Obligation"]
)
async def test_basis_names_accept_dashes_underscores_and_any_case(vault: Vault, basis: str) -> None:
    await piinguin("create", "k1", VALUE, target=vault.target)

    read = await piinguin("read", "k1", "--basis", basis, "--purpose", "p", target=vault.target)

    assert read == Outcome(0, VALUE + "\n", "")


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["read", "k1", "--basis", "whim", "--purpose", "p"], "unknown lawful basis 'whim'"),
        (["read", "k1", "--basis", "consent"], "the following arguments are required: --purpose"),
        (["create", "k1"], "the following arguments are required: VALUE"),
        ([], "the following arguments are required: COMMAND"),
        (["read-many", "--basis", "consent", "--purpose", "p", "--batch-size", "0"], "positive"),
    ],
)
async def test_usage_errors_exit_2(
    vault: Vault, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    outcome = await piinguin(*argv, target=vault.target)

    assert outcome.code == 2
    assert problem in capsys.readouterr().err
    assert vault.calls == []


async def test_help_lists_the_exit_codes(vault: Vault, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = await piinguin("--help", target=vault.target)

    assert outcome.code == 0
    assert "3  the server is unavailable or did not answer in time" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (
            ["read", "k1", "--basis", "consent", "--purpose", " "],
            "piinguin: invalid argument: purpose is required: say why the original value is needed",
        ),
        (["create", "k1", ""], "piinguin: invalid argument: original_value is empty"),
        (["delete", ""], "piinguin: invalid argument: modified_value is empty"),
    ],
)
async def test_arguments_the_server_rejects_exit_2(
    vault: Vault, argv: list[str], stderr: str
) -> None:
    assert await piinguin(*argv, target=vault.target) == Outcome(2, "", stderr + "\n")


async def test_a_value_over_the_size_limit_exits_5_without_echoing_it(vault: Vault) -> None:
    value = "secret-" * MAX_MESSAGE_BYTES

    outcome = await piinguin("create", "k1", value, target=vault.target)

    assert outcome.code == 5
    assert outcome.stderr.startswith("piinguin: resource exhausted: request of ")
    assert "secret" not in outcome.stderr


@pytest.mark.parametrize(
    ("argv", "environ", "stderr"),
    [
        ([], {"PIINGUIN_TARGET": "nope"}, "piinguin: --target (from PIINGUIN_TARGET): target"),
        (["--target", "[::1]"], {}, "piinguin: --target: target '[::1]': put an IPv6 address"),
        (
            ["--target", "http://127.0.0.1:50051"],
            {},
            "piinguin: --target: target 'http://127.0.0.1:50051' has a scheme: a target is"
            " host:port, without http://, e.g. 127.0.0.1:50051\n",
        ),
        (["--timeout", "0"], {}, "piinguin: --timeout: expected a positive number of seconds"),
        ([], {"PIINGUIN_TIMEOUT": "soon"}, "piinguin: --timeout (from PIINGUIN_TIMEOUT): expected"),
        ([], {"PIINGUIN_TOKEN": "t\u00f8ken"}, "piinguin: the token must be printable ASCII"),
    ],
)
async def test_bad_connection_options_exit_2(
    vault: Vault, argv: list[str], environ: dict[str, str], stderr: str
) -> None:
    outcome = await piinguin(*argv, "delete", "k1", target=vault.target, environ=environ)

    assert outcome.code == 2
    assert outcome.stderr.startswith(stderr)
    assert outcome.stderr.count("\n") == 1
    assert "t\u00f8ken" not in outcome.stderr
    assert vault.calls == []


async def test_an_unreachable_server_exits_3(closed_target: str) -> None:
    outcome = await piinguin("create", "k1", VALUE, target=closed_target)

    assert outcome == Outcome(
        3, "", f"piinguin: unavailable: cannot reach {closed_target}: Connection refused\n"
    )


async def test_tls_to_a_plaintext_server_exits_3(vault: Vault) -> None:
    outcome = await piinguin("--tls", "delete", "k1", target=vault.target)

    assert outcome.code == 3
    assert outcome.stderr.startswith(f"piinguin: unavailable: TLS with {vault.target} failed")


async def test_a_server_that_never_answers_exits_3(scripted: Scripted) -> None:
    outcome = await piinguin(
        "--timeout", "0.05", "read", "k1", "--basis", "consent", "--purpose", HANG,
        target=scripted.target,
    )  # fmt: skip

    assert outcome == Outcome(
        3, "", "piinguin: deadline exceeded: the deadline passed before the server answered\n"
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.NOT_FOUND, 1),
        (Status.INVALID_ARGUMENT, 2),
        (Status.UNAVAILABLE, 3),
        (Status.DEADLINE_EXCEEDED, 3),
        (Status.UNAUTHENTICATED, 4),
        (Status.PERMISSION_DENIED, 4),
        (Status.RESOURCE_EXHAUSTED, 5),
        (Status.INTERNAL, 5),
    ],
)
async def test_each_status_has_its_exit_code(scripted: Scripted, status: Status, code: int) -> None:
    outcome = await piinguin(
        "read", "k1", "--basis", "consent", "--purpose", status.name, target=scripted.target
    )

    words = status.name.lower().replace("_", " ")
    assert outcome == Outcome(code, "", f"piinguin: {words}: scripted {status.name}\n")


@pytest.mark.parametrize(
    ("argv", "environ", "token"),
    [
        (["--token", "from-flag"], {}, "from-flag"),
        ([], {"PIINGUIN_TOKEN": "from-env"}, "from-env"),
        (["--token", "from-flag"], {"PIINGUIN_TOKEN": "from-env"}, "from-flag"),
        ([], {"PIINGUIN_TOKEN": ""}, None),
    ],
)
async def test_the_token_goes_as_a_bearer_authorization(
    vault: Vault, argv: list[str], environ: dict[str, str], token: str | None
) -> None:
    outcome = await piinguin(*argv, "delete", "k1", target=vault.target, environ=environ)

    assert outcome.code == 0
    expected = {"authorization": f"Bearer {token}"} if token else {}
    assert [call.metadata for call in vault.calls] == [expected]


async def test_audit_prints_a_status_code_it_does_not_know_as_a_number(
    scripted: Scripted,
) -> None:
    outcome = await piinguin("audit", "--key", "k1", target=scripted.target)

    assert outcome.code == 0, outcome.stderr
    event = json.loads(outcome.stdout)
    assert (event["code"], event["keys"]) == ("99", {"k1": "99"})


# -- bulk ---------------------------------------------------------------------------------


async def test_read_many_prints_found_keys_in_order_and_reports_the_rest(vault: Vault) -> None:
    for key in ("k1", "k2"):
        await piinguin("create", key, f"{key}@example.com", target=vault.target)
    long_key = "x" * 3000

    outcome = await piinguin(
        "read-many", "--basis", "consent", "--purpose", "erasure request 7",
        target=vault.target, stdin=f"k1\n\nmissing\n  k2  \n{long_key}\n",
    )  # fmt: skip

    assert outcome.code == 2
    assert outcome.stdout == "k1\tk1@example.com\nk2\tk2@example.com\n"
    assert outcome.stderr.splitlines() == [
        "piinguin: missing: not found: no record is stored under this key",
        f"piinguin: {long_key}: invalid argument: modified_values[3]: modified_value is longer"
        " than 2048 bytes",
    ]


async def test_read_many_json_prints_one_record_per_line(vault: Vault) -> None:
    await piinguin("create", "k1", VALUE, "--app-id", "shop", target=vault.target)

    outcome = await piinguin(
        "read-many", "--basis", "consent", "--purpose", "p", "--json",
        target=vault.target, stdin="k1\nmissing\n",
    )  # fmt: skip

    assert outcome.code == 1
    [line] = outcome.stdout.splitlines()
    assert json.loads(line)["app_id"] == "shop"
    assert VALUE not in outcome.stderr


async def test_read_many_sends_keys_in_batches(vault: Vault) -> None:
    keys = [f"k{i}" for i in range(MAX_BULK_ITEMS + 2)]
    for key in keys:
        await piinguin("create", key, f"{key}@example.com", target=vault.target)
    argv = ["read-many", "--basis", "consent", "--purpose", "p"]
    stdin = "\n".join(keys)

    too_many = await piinguin(*argv, target=vault.target, stdin=stdin)
    batched = await piinguin(*argv, "--batch-size", "3", target=vault.target, stdin=stdin)

    assert too_many.code == 2
    assert (
        too_many.stderr
        == f"piinguin: invalid argument: too many items: 7 > {MAX_BULK_ITEMS} per call\n"
    )
    assert batched.code == 0
    assert batched.stdout.splitlines() == [f"{key}\t{key}@example.com" for key in keys]


async def test_delete_many_deletes_every_key(vault: Vault) -> None:
    for key in ("k1", "k2"):
        await piinguin("create", key, VALUE, target=vault.target)

    outcome = await piinguin("delete-many", target=vault.target, stdin="k1\nk2\nnever-stored\n")

    assert outcome == Outcome(0, "", "")
    assert len(vault.storage) == 0


#: Values that break naive TSV: a tab, a newline, a backslash, a CRLF, NEL and U+2028.
AWKWARD = {
    "k-tab": "pii-canary-1\tsecond column",
    "k-newline": "pii-canary-2\nk-tab",
    "k-backslash": "pii-canary-3\\t not a tab",
    "k-crlf": "pii-canary-4\r\n",
    "k-nel": "pii-canary-5\x85k-tab\u2028k-tab",
}


async def test_read_many_prints_each_record_on_one_line_of_two_columns(vault: Vault) -> None:
    await vault.storage.put_many([Record(k, v) for k, v in AWKWARD.items()])

    outcome = await piinguin(
        "read-many", "--basis", "consent", "--purpose", "p",
        target=vault.target, stdin="\n".join(AWKWARD),
    )  # fmt: skip

    assert outcome.code == 0
    assert outcome.stdout.split("\n") == [
        "k-tab\tpii-canary-1\\tsecond column",
        "k-newline\tpii-canary-2\\nk-tab",
        "k-backslash\tpii-canary-3\\\\t not a tab",
        "k-crlf\tpii-canary-4\\r\\n",
        "k-nel\tpii-canary-5\x85k-tab\u2028k-tab",
        "",
    ]


@pytest.mark.parametrize("json_lines", [False, True], ids=["tsv", "json"])
async def test_delete_many_takes_read_many_output_and_no_value_reaches_the_audit_log(
    vault: Vault, log_output: Callable[[], str], json_lines: bool
) -> None:
    await vault.storage.put_many([Record(k, v) for k, v in AWKWARD.items()])
    found = await piinguin(
        "read-many", "--basis", "consent", "--purpose", "erasure 9",
        *(["--json"] if json_lines else []),
        target=vault.target, stdin="\n".join(AWKWARD),
    )  # fmt: skip
    assert found.code == 0

    deleted = await piinguin("delete-many", target=vault.target, stdin=found.stdout)

    assert deleted == Outcome(0, "", "")
    assert len(vault.storage) == 0
    page = await vault.server.audit.query(AuditQuery(since=datetime(2000, 1, 1, tzinfo=UTC)))
    [read, delete] = page.events
    assert [k.modified_value for k in delete.keys] == list(AWKWARD)
    assert [k.modified_value for k in read.keys] == list(AWKWARD)
    assert "pii-canary" not in log_output()


@pytest.mark.parametrize(
    ("stdin", "problem"),
    [
        ("k1\nk2\x1b[31m\tv\n", "line 2: modified_value holds a control character (U+001B)"),
        ("k1\n\tpii-canary\n", "line 2: no key before the tab"),
        ("k1\r\nk2\rpii-canary\n", "line 2: modified_value holds a control character (U+000D)"),
        ('k1\n{"original_value": "pii-canary"}\n', "line 2: starts with '{' but is not"),
        ('{"modified_value": "pii-canary\\u0000"}', "line 1: modified_value holds a control"),
        ("{pii-canary\n", "line 1: starts with '{' but is not a JSON object"),
    ],
)
@pytest.mark.parametrize("command", ["delete-many", "read-many"])
async def test_bulk_input_that_is_not_keys_is_refused_and_nothing_is_sent(
    vault: Vault, log_output: Callable[[], str], stdin: str, problem: str, command: str
) -> None:
    await vault.storage.put_many([Record("k1", VALUE), Record("k2", VALUE)])
    argv = [command] + (["--basis", "consent", "--purpose", "p"] if command == "read-many" else [])

    outcome = await piinguin(*argv, target=vault.target, stdin=stdin)

    assert outcome.code == 2
    assert outcome.stderr.startswith(f"piinguin: {problem}")
    assert outcome.stderr.endswith(
        "; nothing was deleted\n" if command == "delete-many" else "; nothing was read\n"
    )
    assert "pii-canary" not in outcome.stderr
    assert vault.calls == []
    assert len(vault.storage) == 2


@pytest.mark.parametrize(
    "command", [["delete"], ["read", "--basis", "consent", "--purpose", "p"], ["create"]]
)
async def test_a_key_argument_with_a_control_character_is_refused_unsent(
    vault: Vault, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    name, *options = command
    value = [VALUE] if name == "create" else []

    outcome = await piinguin(name, "k1\tpii-canary", *value, *options, target=vault.target)

    assert outcome.code == 2
    err = capsys.readouterr().err
    assert "argument KEY: modified_value holds a control character (U+0009)" in err
    assert "pii-canary" not in err
    assert vault.calls == []


async def test_empty_input_to_a_bulk_command_does_nothing(vault: Vault) -> None:
    assert await piinguin("delete-many", target=vault.target) == Outcome(0, "", "")
    assert vault.calls == []


# -- the installed console script ---------------------------------------------------------


async def console(*argv: str, target: str) -> Outcome:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIINGUIN_")}
    process = await asyncio.create_subprocess_exec(
        CONSOLE_SCRIPT,
        *argv,
        env={**environ, "PIINGUIN_TARGET": target},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Outcome(process.returncode, stdout.decode(), stderr.decode())


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="piinguin is not installed in this venv")
async def test_console_script_round_trip(vault: Vault, closed_target: str) -> None:
    read = ("read", "k1", "--basis", "vital-interests", "--purpose", "incident 9")
    assert await console("create", "k1", VALUE, target=vault.target) == Outcome(0, "", "")
    assert await console(*read, target=vault.target) == Outcome(0, VALUE + "\n", "")
    assert await console("delete", "k1", target=vault.target) == Outcome(0, "", "")
    assert await console(*read, target=vault.target) == Outcome(
        1, "", "piinguin: not found: no record is stored under this key\n"
    )
    unavailable = await console(*read, target=closed_target)
    assert unavailable.code == 3
    assert unavailable.stderr.startswith("piinguin: unavailable: cannot reach")
