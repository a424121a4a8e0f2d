"""The README's examples run, so they cannot rot.

A fenced block preceded by ``<!-- test: run -->`` runs against a real server on a free
port: ```python blocks with this interpreter, ```sh blocks with bash (``set -e``, in a
fresh folder, the console scripts on PATH, ``PIINGUIN_TARGET`` pointing at the server), with
``127.0.0.1:50051`` and ``localhost:50051`` replaced by the server's address. A block that
cannot run here says why: ``<!-- test: skip: <reason> -->``. Every Python block and every
shell block that calls one of Piinguin's commands must say one or the other.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from piinguin.access.policy import Policy
from piinguin.v1 import LAWFUL_BASES
from tests.conftest import ServerFactory
from tests.relay.factory import page_view_line, pii_line, pojo_item

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!-- test: (run|skip: [^>]+?) -->\n\Z")
_COMMAND = re.compile(r"(^|[\s|;&])piinguin(-server|-relay|-healthcheck)?\s", re.MULTILINE)
SHELLS = ("sh", "console", "bash", "shell")
README_TARGETS = ("127.0.0.1:50051", "localhost:50051")


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    marker: str | None  # "run", "skip: <reason>", or None

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        marker = _MARKER.search(text, 0, match.start())
        found.append(
            Block(
                line=text.count("\n", 0, match.start()) + 1,
                language=match[1],
                code=match[2],
                marker=marker[1] if marker else None,
            )
        )
    return found


RUN = [block for block in blocks() if block.marker == "run"]


def test_every_python_block_and_every_piinguin_command_block_is_run_or_says_why_not() -> None:
    unmarked = [
        str(block)
        for block in blocks()
        if block.marker is None
        and (
            block.language == "python" or (block.language in SHELLS and _COMMAND.search(block.code))
        )
    ]
    assert unmarked == [], "mark each with <!-- test: run --> or <!-- test: skip: why -->"
    assert {block.language for block in RUN} == {"python", "sh"}


def _archive(folder: Path) -> None:
    """What the relay's example reads: ``archive/`` with a day of the PII stream."""
    (folder / "archive").mkdir()
    events = [
        pii_line([pojo_item("user_id", "jane@acme.com"), pojo_item("user_ipaddress", "10.0.0.7")]),
        page_view_line(),
    ]
    gzipped = gzip.compress(("\n".join(events) + "\n").encode())
    (folder / "archive" / "2026-11-01.tsv.gz").write_bytes(gzipped)


@pytest.mark.socket
@pytest.mark.parametrize("block", RUN, ids=str)
async def test_the_example_runs(block: Block, start_server: ServerFactory, tmp_path: Path) -> None:
    _archive(tmp_path)
    async with start_server() as server:
        target = f"127.0.0.1:{server.port}"
        code = block.code
        for example in README_TARGETS:
            code = code.replace(example, target)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PIINGUIN_")}
        environ |= {"PIINGUIN_TARGET": target, "PATH": f"{BIN}{os.pathsep}{environ['PATH']}"}
        if block.language == "python":
            argv = [sys.executable, "-c", code]
        else:
            argv = ["bash", "-e", "-o", "pipefail", "-c", code]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=tmp_path,
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)

    stdout, stderr = out.decode(), err.decode()
    assert (process.returncode, stderr) == (0, ""), f"{block} failed:\n{stdout}"
    if block.language == "python":
        assert stdout == "john@acme.com\n3 stored, 0 failed\nno record is stored under this key\n"
    elif "piinguin read " in code:
        assert stdout.startswith("SERVING\njohn@acme.com\n")
        assert (tmp_path / "pairs.tsv").read_text() == "7d8a4b...\tjohn@acme.com\n"
    elif "piinguin-relay" in code:
        assert stdout.count('"event":"relay_summary"') == 2


# -- the examples' reads are ones the example policy permits --------------------------------

_READS = (
    re.compile(r"--basis (?P<basis>[\w-]+) --purpose (?P<purpose>\"[^\"]+\"|\S+)"),
    re.compile(r"basis=LawfulBasis\.(?P<basis>\w+), purpose=\"(?P<purpose>[^\"]+)\""),
    re.compile(
        r"\"lawful_basis\": \"LAWFUL_BASIS_(?P<basis>\w+)\", \"purpose\": \"(?P<purpose>[^\"]+)\""
    ),
)


def _example_policy() -> Policy:
    [document] = [block.code for block in blocks() if "[principals.support]" in block.code]
    digests = iter(f"{n:064x}" for n in range(1, 100))
    return Policy.from_document(
        tomllib.loads(re.sub(r'"<[^>]*>"', lambda _: f'"{next(digests)}"', document))
    )


def _reads() -> list[tuple[str, str]]:
    found = []
    for block in blocks():
        for pattern in _READS:
            for match in pattern.finditer(block.code):
                basis = match["basis"].lower().replace("-", "_")
                found.append((basis, match["purpose"].strip('"')))
    return found


def test_the_examples_find_reads_in_every_form() -> None:
    assert {("consent", "ticket-42"), ("legal_obligation", "court order 7")} <= set(_reads())
    assert len(_reads()) >= 5  # CLI, Python client and grpcurl examples


@pytest.mark.parametrize(("basis", "purpose"), sorted(set(_reads())))
def test_each_example_read_is_permitted_by_the_example_policy(basis: str, purpose: str) -> None:
    grants = _example_policy().grants.values()

    problems = [grant.read_problem(LAWFUL_BASES[basis], purpose) for grant in grants]

    assert None in problems, problems
