"""``--receipt-key``: the server signs erasure receipts with the key file's key, names the
file (never the key) when it cannot load it, and warns at start without one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from piinguin.client import LawfulBasis, PiinguinClient
from piinguin.options import OptionError
from piinguin.receipts import ReceiptSigner, write_key_file
from piinguin.server.config import ServerConfig
from tests.conftest import running_entry_point

pytestmark = pytest.mark.socket


def test_the_receipt_key_comes_from_the_flag_or_the_environment() -> None:
    flags = ["--insecure-no-auth"]
    by_flag = ServerConfig.from_args([*flags, "--receipt-key", "/etc/receipt.pem"], {})
    by_env = ServerConfig.from_args(flags, {"PIINGUIN_RECEIPT_KEY": "/etc/receipt.pem"})
    assert by_flag.receipt_key == by_env.receipt_key == "/etc/receipt.pem"
    assert ServerConfig.from_args(flags, {}).receipt_key is None


async def test_receipts_are_signed_with_the_key_file(
    tmp_path: Path, log_output: Callable[[], str]
) -> None:
    path = tmp_path / "receipt.pem"
    signer = write_key_file(path)
    config = ServerConfig(port=0, insecure_no_auth=True, receipt_key=str(path))
    async with (
        running_entry_point(config) as running,
        PiinguinClient(f"127.0.0.1:{running.port}") as client,
    ):
        keys = await client.receipt_keys()
        receipt = await client.erase_subject(
            modified_values=["k-1"], basis=LawfulBasis.LEGAL_OBLIGATION, purpose="DSR-1"
        )
    assert keys == {signer.key_id: signer.public_key_pem}
    assert receipt.verify_with(signer.public_key_pem)["pseudonyms"] == ["k-1"]
    events = [json.loads(line) for line in log_output().splitlines()]
    said = {"event": "receipt_key", "key_id": signer.key_id, "path": str(path)}
    assert said in [{k: e.get(k) for k in said} for e in events]
    assert "ephemeral_receipt_key" not in log_output()
    key_text = path.read_text()
    assert key_text.splitlines()[1] not in log_output()


async def test_without_a_key_file_the_server_warns_at_start(log_output: Callable[[], str]) -> None:
    config = ServerConfig(port=0, insecure_no_auth=True)
    async with running_entry_point(config):
        pass
    [warning] = [
        json.loads(line) for line in log_output().splitlines() if "ephemeral_receipt_key" in line
    ]
    assert warning["level"] == "warning"
    assert "cannot be verified after a restart" in warning["detail"]


async def test_an_unusable_key_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(ReceiptSigner.generate().public_key_pem)  # a public key: not one to sign
    for path, message in (
        (wrong, "not an unencrypted PEM private key"),
        (tmp_path / "missing.pem", "cannot be read"),
    ):
        config = ServerConfig(port=0, insecure_no_auth=True, receipt_key=str(path))
        with pytest.raises(OptionError, match=rf"^--receipt-key: {path}: {message}"):
            async with running_entry_point(config):
                pass
