"""The C sealer (``storage.crypto._batch``) against the pure-Python one: the same
ciphertexts (each opens the other's), the same blind index and digest for any value
(normalisation included), the same verdicts on damaged items, and errors that name no value.

Skipped only where the C sealer cannot be built (no C compiler); on a machine that has one,
a missing build fails here, since the benchmarks' figures depend on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import ItemFailed, Record
from storage.crypto import NATIVE, BlindIndex, Cipher, DataKey, Envelope, IndexKey, normalise
from storage.crypto.envelope import AAD_PREFIX, NOT_TEXT, TAMPERED
from storage.records import Sealed, SealedRecord, StoredOutcome
from tests.conftest import why_no_c_sealer


def test_the_c_sealer_is_built_where_a_compiler_is() -> None:
    missing = why_no_c_sealer()
    if missing is not None:
        pytest.skip(f"{missing}: the pure-Python sealer serves here")
    assert NATIVE, (
        "storage.crypto._batch is not built: reinstall (make install) and read "
        "hatch_build.py's warning (pip install -v -e .) for why"
    )


needs_c = pytest.mark.skipif(not NATIVE, reason="the C sealer is not built here")


class OneKey:
    """A keyring of one data key, which the test can read: enough for an Envelope."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = Cipher(key or os.urandom(32))
        self.current = DataKey("local:test", b"w" * 16, self.key)
        self.others: dict[tuple[str, bytes], Cipher] = {}

    async def data_key(self, uses: int) -> DataKey:
        return self.current

    def cached(self, version: str, wrapped: bytes) -> Cipher | None:
        if (version, wrapped) == (self.current.version, self.current.wrapped):
            return self.key
        return self.others.get((version, wrapped))

    async def cipher(self, version: str, wrapped: bytes) -> Cipher:
        found = self.cached(version, wrapped)
        if found is None:
            from storage.crypto import UnknownDataKey

            raise UnknownDataKey("not this keyring's")
        return found


INDEX_KEY = IndexKey(bytes(range(32)), 22)


def envelopes(keys: OneKey, bits: int = 22) -> tuple[Envelope, Envelope]:
    index = BlindIndex(IndexKey(INDEX_KEY.key, bits))
    return (
        Envelope(keys, "vault", index, native=True),  # type: ignore[arg-type]
        Envelope(keys, "vault", index, native=False),  # type: ignore[arg-type]
    )


#: Values where normalisation has something to decide: e-mail shapes, IP addresses,
#: whitespace str.strip() removes (in and out of ASCII), Unicode that NFC changes.
TRICKY = [
    "  John.Doe@Example.COM ",
    "john@example.com",
    "a b@example.com",
    "@example.com",
    "john@",
    "a@b@c",
    "a@b\x7f",
    "\x1fq@r\x1c",
    "\tX@Y\n",
    "1.2.3.4",
    " 1.2.3.4 ",
    "::ffff:1.2.3.4",
    "DEAD:beef::1",
    "1.2.3",
    "a.b",
    "cafe.",
    "",
    " ",
    "Zoë@Example.com",
    "e\u0301@x.org",
    "\u00a0spaced@x.org\u2003",
    "\u212b",
    "user_0000001",
    "x" * 3000,
]


def records_of(values: Sequence[str]) -> list[Record]:
    return [
        Record(f"{i:064x}", value, "user_id", "$.x", "iglu:x", "SHA-256", "app")
        for i, value in enumerate(values)
    ]


@needs_c
@pytest.mark.parametrize("bits", [1, 8, 13, 22, 64, 256])
async def test_sealed_in_c_is_sealed_as_in_python(bits: int) -> None:
    keys = OneKey()
    native, pure = envelopes(keys, bits)
    records = records_of(TRICKY)

    sealed = await native.seal_many(records)
    expected = await pure.seal_many(records)

    index = BlindIndex(IndexKey(INDEX_KEY.key, bits))
    for record, got, want in zip(records, sealed, expected, strict=True):
        assert type(got) is SealedRecord
        assert type(got.sealed) is Sealed
        assert got[0] == record[0]
        assert got[2:] == record[2:]
        # Nonces are random: everything but the ciphertext is equal, and that opens.
        assert got.sealed._replace(ciphertext=b"") == want.sealed._replace(ciphertext=b"")
        assert got.sealed.digest == index.digest(record.original_value)
        assert got.sealed.blind_index == index(record.original_value)
        assert len(got.sealed.ciphertext) == len(want.sealed.ciphertext)
    assert await pure.open_many(sealed) == records
    assert await native.open_many(expected) == records


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=8), st.text(min_size=1))
def test_any_value_seals_alike(values: list[str], key: str) -> None:
    keys = OneKey(b"k" * 32)
    native, pure = envelopes(keys)
    records = [Record(key + str(i), value) for i, value in enumerate(values)]

    sealed = asyncio.run(native.seal_many(records))

    for record, got in zip(records, sealed, strict=True):
        assert got.sealed.digest == BlindIndex(INDEX_KEY).digest(record.original_value)
    assert asyncio.run(pure.open_many(sealed)) == records
    assert asyncio.run(native.open_many(sealed)) == records


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_normalisation_in_c_is_pythons(value: str) -> None:
    """Every ASCII value (C decides most of them itself) gets Python's normal form's HMAC."""
    keys = OneKey(b"k" * 32)
    native, _ = envelopes(keys)

    [sealed] = asyncio.run(native.seal_many([Record("k", value)]))

    assert sealed.sealed.digest == BlindIndex(INDEX_KEY).mac(normalise(value)).hex()


def damaged(record: SealedRecord, ciphertext: bytes) -> SealedRecord:
    return record._replace(sealed=record.sealed._replace(ciphertext=ciphertext))


@needs_c
async def test_damaged_items_get_the_same_verdicts() -> None:
    keys = OneKey()
    native, pure = envelopes(keys)
    good, other = await native.seal_many(records_of(["john@acme.com", "jane@acme.com"]))
    raw = good.sealed.ciphertext
    not_utf8 = keys.key.encrypt(raw[:12], b"\xff\xfe", AAD_PREFIX + b"vault\0k")
    cases: list[StoredOutcome] = [
        damaged(good, raw[:-1] + bytes([raw[-1] ^ 1])),  # the tag
        damaged(good, raw[:20] + bytes([raw[20] ^ 0x80]) + raw[21:]),  # the ciphertext
        damaged(good, bytes([raw[0] ^ 1]) + raw[1:]),  # the nonce
        damaged(good, raw[:27]),  # shorter than nonce and tag
        damaged(good, b""),
        good._replace(modified_value=other.modified_value),  # moved to another pseudonym
        SealedRecord("k", Sealed("local:test", b"w" * 16, raw[:12] + not_utf8)),
        SealedRecord("k", Sealed("local:gone", b"x", raw)),  # a key this keyring lacks
        None,
        Record("plain", "written before encryption"),
        ItemFailed("unreadable for now"),
        good,
    ]

    got, want = await native.open_many(cases), await pure.open_many(cases)

    assert got == want
    assert got[:7] == [TAMPERED] * 6 + [NOT_TEXT]
    assert isinstance(got[7], ItemFailed)
    assert got[7].damaged
    assert got[8:11] == cases[8:11]
    assert isinstance(got[11], Record)
    assert got[11].original_value == "john@acme.com"


@needs_c
async def test_runs_under_several_data_keys_open_in_order() -> None:
    first, second = OneKey(), OneKey()
    second.current = second.current._replace(version="local:second")
    first.others[(second.current.version, second.current.wrapped)] = second.key
    native_first, _ = envelopes(first)
    native_second, _ = envelopes(second)
    a = await native_first.seal_many(records_of(["a@x.org", "b@x.org"]))
    b = await native_second.seal_many(records_of(["c@x.org", "d@x.org"]))
    mixed: list[StoredOutcome] = [a[0], b[0], None, b[1], a[1]]

    opened = await native_first.open_many(mixed)

    assert [getattr(o, "original_value", o) for o in opened] == [
        "a@x.org",
        "c@x.org",
        None,
        "d@x.org",
        "b@x.org",
    ]


@needs_c
def test_bad_arguments_are_refused_without_a_value() -> None:
    from storage.crypto import _batch

    secret = "john.doe@acme.com"
    good = [Record("k", secret)]
    aad, normal = b"aad", normalise
    key, nonce = b"k" * 32, b"n" * 12
    types = (Sealed, SealedRecord, "")
    calls: dict[str, Callable[[], object]] = {
        "short key": lambda: _batch.seal_many(
            good, key[:31], nonce, aad, "v", b"w", b"i", 22, normal, *types
        ),
        "nonces": lambda: _batch.seal_many(
            good, key, nonce[:11], aad, "v", b"w", b"i", 22, normal, *types
        ),
        "long index key": lambda: _batch.seal_many(
            good, key, nonce, aad, "v", b"w", b"i" * 65, 22, normal, *types
        ),
        "not a record": lambda: _batch.seal_many(
            [(secret,)], key, nonce, aad, "v", b"w", b"i", 22, normal, *types
        ),
        "open, short key": lambda: _batch.open_run(
            [], 0, b"k", "v", b"w", aad, SealedRecord, Record, TAMPERED, NOT_TEXT, []
        ),
    }
    for name, call in calls.items():
        with pytest.raises((ValueError, TypeError)) as raised:
            call()
        assert secret not in str(raised.value), name


@needs_c
def test_a_failing_normalise_fails_the_batch() -> None:
    from storage.crypto import _batch

    def broken(value: str) -> str:
        raise RuntimeError("normalise failed")

    with pytest.raises(RuntimeError, match="normalise failed"):
        _batch.seal_many(
            [Record("k", "1.2.3.4")], b"k" * 32, b"n" * 12, b"", "v", b"w", b"i", 22, broken,
            Sealed, SealedRecord, "",
        )  # fmt: skip


def test_asking_for_the_c_sealer_where_it_is_not_built_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from storage.crypto import envelope

    monkeypatch.setattr(envelope, "_batch", None)
    monkeypatch.setattr(envelope, "NATIVE", False)

    with pytest.raises(ValueError, match="not built here"):
        Envelope(OneKey(), "vault", None, native=True)  # type: ignore[arg-type]
    assert not Envelope(OneKey(), "vault", None).native  # type: ignore[arg-type]


@pytest.mark.parametrize("native", [pytest.param(True, marks=needs_c), False], ids=["c", "pure"])
async def test_a_value_utf8_cannot_encode_is_refused_without_it(native: bool) -> None:
    keys = OneKey()
    sealer = Envelope(keys, "vault", BlindIndex(INDEX_KEY), native=native)  # type: ignore[arg-type]
    secret = "4111-1111-1111-1111 \ud800"

    with pytest.raises(ValueError, match="not valid Unicode text") as raised:
        await sealer.seal_many([Record("k", secret)])

    assert "4111" not in str(raised.value)
    assert "4111" not in repr(raised.value)


@needs_c
def test_the_callback_may_change_the_records_list_mid_call() -> None:
    """normalise is Python: the C sealer works on its own snapshot of the list."""
    from storage.crypto import _batch

    records = [Record(f"m{i}", f"1.2.3.{i}") for i in range(4)]

    def clearing(value: str) -> str:
        records.clear()
        return normalise(value)

    sealed = _batch.seal_many(
        records, b"k" * 32, b"n" * 48, b"", "v", b"w", b"i", 22, clearing, Sealed, SealedRecord, ""
    )

    assert [s.modified_value for s in sealed] == ["m0", "m1", "m2", "m3"]


@needs_c
def test_open_run_refuses_record_types_that_are_not_tuples() -> None:
    from storage.crypto import _batch

    not_a_tuple: Any = list
    with pytest.raises(TypeError, match="tuple types"):
        _batch.open_run([[1, 2, 3]], 0, b"k" * 32, "v", b"w", b"", not_a_tuple, tuple, 0, 0, [])


@needs_c
async def test_associated_data_past_the_sealers_buffer_seals_alike() -> None:
    """A modified value long enough that the associated data goes in two updates."""
    keys = OneKey()
    native, pure = envelopes(keys)
    records = [Record("p" * 600, "john@acme.com"), Record("q" * 40, "jane@acme.com")]

    assert await pure.open_many(await native.seal_many(records)) == records
    assert await native.open_many(await pure.seal_many(records)) == records
