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
    UnknownDataKey,
    create_key_file,
    load_key_file,
    local,
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


async def test_a_server_reads_what_another_wrote_under_a_version_added_after_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=16)
    old_server = Keyring(await load_key_file(path))
    rotate_key_file(path)
    restarted = Keyring(await load_key_file(path))
    written = await restarted.data_key(1)
    assert written.version != old_server.current_version
    monkeypatch.setattr(local, "RELOAD_INTERVAL", 0.0)  # it started long enough ago

    cipher = await old_server.cipher(written.version, written.wrapped)

    nonce = b"\1" * 12
    assert cipher.decrypt(nonce, written.cipher.encrypt(nonce, b"v", None), None) == b"v"
    assert old_server.current_version == written.version  # and it writes under it from now


async def test_unknown_versions_re_read_the_key_file_at_most_every_few_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=16)
    keys = await load_key_file(path)
    monkeypatch.setattr(local, "RELOAD_INTERVAL", 0.0)
    with pytest.raises(UnknownDataKey):  # re-read: nothing new
        await keys.unwrap("local:00000000", b"s" * 16)
    new = rotate_key_file(path)
    monkeypatch.setattr(local, "RELOAD_INTERVAL", 3600.0)

    with pytest.raises(UnknownDataKey):  # read moments ago: not again
        await keys.unwrap(new, b"s" * 16)
    monkeypatch.setattr(local, "RELOAD_INTERVAL", 0.0)
    assert len(await keys.unwrap(new, b"s" * 16)) == 32


async def test_a_key_file_with_another_index_key_is_not_taken_on_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, index_bits=16)
    keys = await load_key_file(path)
    path.unlink()
    create_key_file(path, index_bits=16)  # replaced by an unrelated key file
    other = await load_key_file(path)
    monkeypatch.setattr(local, "RELOAD_INTERVAL", 0.0)

    with pytest.raises(UnknownDataKey):
        await keys.unwrap(other.current_version, b"s" * 16)

    assert keys.current_version != other.current_version
