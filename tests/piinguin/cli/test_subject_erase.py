"""``piinguin subject erase`` and ``verify-receipt`` against a real server, and
``piinguin-admin receipt-key``: receipts written, verified offline and through the server,
and refused with exit 6 once altered or checked against another key."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from piinguin.admin.main import main as admin
from piinguin.cli.exit_codes import EXIT_INVALID_RECEIPT
from piinguin.client import PiinguinClient, PiiRecord
from piinguin.receipts import ReceiptSigner
from storage import MemoryStorage
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from tests import conftest
from tests.piinguin.cli.test_cli import piinguin
from tests.storage.leaks import found_values

pytestmark = pytest.mark.socket

MAIL = "pii-canary-cli@example.org"
JUSTIFIED = ("--basis", "legal-obligation", "--purpose", "DSR-99")


class Running:
    def __init__(self, target: str, signer: ReceiptSigner) -> None:
        self.target = target
        self.signer = signer


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    key = tmp_path / "receipt.pem"
    out, err = io.StringIO(), io.StringIO()
    assert await admin(["receipt-key", "create", str(key)], {}, out=out, err=err) == 0
    signer = ReceiptSigner.load(key)
    assert signer.public_key_pem in out.getvalue()
    assert signer.key_id in out.getvalue()
    storage = EncryptedStorage(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")
    async with conftest.running_server(storage, receipt_signer=signer) as server:
        target = f"127.0.0.1:{server.port}"
        async with PiinguinClient(target) as client:
            records = [
                PiiRecord(modified_value="k1", original_value=MAIL, field_name="user_id"),
                PiiRecord(modified_value="k2", original_value=MAIL, field_name="contexts"),
            ]
            assert all(r.ok for r in await client.create_records(records))
        yield Running(target, signer)


async def test_erase_writes_a_receipt_that_verifies_offline_and_through_the_server(
    running: Running, tmp_path: Path, log_output: Callable[[], str]
) -> None:
    receipt = tmp_path / "receipt.json"
    erased = await piinguin(
        "subject", "erase", "-", "--output", str(receipt), *JUSTIFIED,
        target=running.target, stdin=MAIL + "\n",
    )  # fmt: skip
    assert erased.code == 0, erased
    assert "erased 2 pseudonyms (2 records), 1 value tombstones" in erased.stdout
    document = json.loads(receipt.read_text())
    assert set(document) == {"receipt", "signature", "key_id"}
    assert json.loads(document["receipt"])["pseudonyms"] == ["k1", "k2"]

    public = tmp_path / "public.pem"
    out = io.StringIO()
    assert await admin(["receipt-key", "public", str(tmp_path / "receipt.pem")], {}, out=out,
                       err=io.StringIO()) == 0  # fmt: skip
    public.write_text(out.getvalue())
    offline = await piinguin(
        "subject", "verify-receipt", str(receipt), "--public-key", str(public),
        target="127.0.0.1:9",  # nothing listens there: offline means offline
    )  # fmt: skip
    assert offline.code == 0, offline
    assert offline.stdout.startswith(f"valid: signed by {running.signer.key_id}\n")
    assert "2 pseudonyms tombstoned (2 held a record), 1 value tombstones" in offline.stdout
    served = await piinguin("subject", "verify-receipt", str(receipt), "--json",
                            target=running.target)  # fmt: skip
    assert served.code == 0, served
    assert json.loads(served.stdout)["valid"] is True

    everything = receipt.read_text() + erased.stdout + offline.stdout + log_output()
    assert found_values([MAIL], everything) == []


async def test_a_one_character_change_or_another_key_fails_with_exit_6(
    running: Running, tmp_path: Path
) -> None:
    receipt = tmp_path / "receipt.json"
    erased = await piinguin(
        "subject", "erase", "--pseudonym", "k1", "--output", str(receipt), *JUSTIFIED,
        target=running.target,
    )  # fmt: skip
    assert erased.code == 0, erased
    document = json.loads(receipt.read_text())
    text = document["receipt"]
    position = text.index('"k1"') + 2
    document["receipt"] = text[:position] + "2" + text[position + 1 :]  # k1 -> k2
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document))
    refused = await piinguin("subject", "verify-receipt", str(altered), target=running.target)
    assert refused.code == EXIT_INVALID_RECEIPT
    assert "INVALID" in refused.stderr
    assert "altered" in refused.stderr

    other = tmp_path / "other.pem"
    other.write_text(ReceiptSigner.generate().public_key_pem)
    wrong_key = await piinguin(
        "subject", "verify-receipt", str(receipt), "--public-key", str(other),
        target=running.target,
    )  # fmt: skip
    assert wrong_key.code == EXIT_INVALID_RECEIPT
    assert "another key" in wrong_key.stderr

    not_a_receipt = tmp_path / "not.json"
    not_a_receipt.write_text("{}")
    bad = await piinguin("subject", "verify-receipt", str(not_a_receipt), target=running.target)
    assert bad.code == EXIT_INVALID_RECEIPT
    assert "not a receipt file" in bad.stderr


async def test_erase_prints_the_receipt_without_output_and_refuses_an_existing_file(
    running: Running, tmp_path: Path
) -> None:
    printed = await piinguin(
        "subject", "erase", "--pseudonym", "k2", *JUSTIFIED, target=running.target
    )
    assert printed.code == 0, printed
    assert json.loads(json.loads(printed.stdout)["receipt"])["pseudonyms"] == ["k2"]
    existing = tmp_path / "taken.json"
    existing.write_text("keep me")
    refused = await piinguin(
        "subject", "erase", "--pseudonym", "k1", "--output", str(existing), *JUSTIFIED,
        target=running.target,
    )  # fmt: skip
    assert refused.code == 2
    assert existing.read_text() == "keep me"
    async with PiinguinClient(running.target) as client:
        [result] = await client.create_records([PiiRecord(modified_value="k1", original_value="x")])
    assert result.ok  # nothing was erased: k1 was not tombstoned


async def test_admin_receipt_key_refuses_to_overwrite_and_names_a_bad_file(tmp_path: Path) -> None:
    key = tmp_path / "receipt.pem"
    key.write_text("not a key")
    err = io.StringIO()
    assert await admin(["receipt-key", "create", str(key)], {}, out=io.StringIO(), err=err) == 2
    assert "exists already" in err.getvalue()
    err = io.StringIO()
    assert await admin(["receipt-key", "public", str(key)], {}, out=io.StringIO(), err=err) == 2
    assert f"{key}: not an unencrypted PEM private key" in err.getvalue()
    assert key.read_text() == "not a key"
