"""Key files: made, rotated and read, and what a bad one says."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from storage.crypto import (
    Keyring,
    KeyringMisconfigured,
    create_key_file,
    load_key_file,
    rotate_key_file,
)
from storage.crypto.local import index_bits_for


async def test_a_new_key_file_is_private_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    version = create_key_file(path, index_bits=22)
    keys = await load_key_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.current_version == version
    assert version.startswith("local:")
    assert (await keys.index_key()).bits == 22
    assert str(path) in keys.describe()


def test_create_refuses_to_overwrite_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=22)
    before = path.read_text()

    with pytest.raises(FileExistsError):
        create_key_file(path, index_bits=22)

    assert path.read_text() == before


async def test_rotation_adds_a_current_version_and_keeps_the_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = create_key_file(path, index_bits=22)
    old = Keyring(await load_key_file(path))
    written = await old.data_key(1)

    second = rotate_key_file(path)
    rotated = await load_key_file(path)

    assert second != first
    assert rotated.current_version == second
    assert rotated.versions == [first, second]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # What the old version wrapped still unwraps, to the same key.
    reader = Keyring(rotated)
    plain = b"same key, same ciphertext"
    nonce = b"\0" * 12
    sealed = written.cipher.encrypt(nonce, plain, None)
    cipher = await reader.cipher(written.version, written.wrapped)
    assert cipher.decrypt(nonce, sealed, None) == plain
    assert (await rotated.index_key()) == (await old.index_key())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "is not JSON"),
        ('{"format": "other"}', "is not a piinguin-keyring/1 key file"),
        ('{"format": "piinguin-keyring/1"}', "needs 'keys' and 'index'"),
    ],
)
async def test_a_bad_key_file_is_named_with_its_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)

    with pytest.raises(KeyringMisconfigured, match=problem) as caught:
        await load_key_file(path)

    assert str(path) in str(caught.value)


async def test_a_bad_key_is_named_but_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=22)
    data = json.loads(path.read_text())
    [version] = data["keys"]
    short = base64.b64encode(b"secret-but-short").decode()
    data["keys"][version] = short
    path.write_text(json.dumps(data))

    with pytest.raises(KeyringMisconfigured, match=f"key '{version}' is not 32 bytes") as caught:
        await load_key_file(path)

    assert short not in str(caught.value)


async def test_a_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(KeyringMisconfigured, match=r"cannot read key file .*No such file"):
        await load_key_file(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("values", "bits"), [(10_000_000, 22), (1_000_000_000, 28), (2**20, 19), (100, 8)]
)
def test_index_bits_leave_two_values_or_more_per_index_value(values: int, bits: int) -> None:
    assert index_bits_for(values) == bits
