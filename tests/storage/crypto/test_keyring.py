"""The keyring's cache: how often the provider is asked, for writes and for reads."""

from __future__ import annotations

import asyncio

import pytest

from storage.crypto import IndexKey, Keyring, LocalKeys, UnknownDataKey


class CountingKeys:
    """A real local key source that counts the calls made to it."""

    def __init__(self) -> None:
        self.inner = LocalKeys.ephemeral()
        self.generated = 0
        self.unwrapped = 0

    @property
    def current_version(self) -> str:
        return self.inner.current_version

    def describe(self) -> str:
        return self.inner.describe()

    async def generate(self) -> tuple[bytes, bytes]:
        self.generated += 1
        await asyncio.sleep(0)  # a provider call takes a while: let concurrent callers in
        return await self.inner.generate()

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        self.unwrapped += 1
        await asyncio.sleep(0)
        return await self.inner.unwrap(version, wrapped)

    async def index_key(self) -> IndexKey:
        return await self.inner.index_key()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_data_key_serves_its_uses_then_a_new_one_is_made() -> None:
    source = CountingKeys()
    keyring = Keyring(source, max_uses=1000, clock=Clock())

    first = await keyring.data_key(600)
    second = await keyring.data_key(400)  # 1,000 uses: still the first key
    third = await keyring.data_key(1)

    assert second == first
    assert third.wrapped != first.wrapped
    assert source.generated == 2


async def test_a_data_key_expires_with_age() -> None:
    clock = Clock()
    source = CountingKeys()
    keyring = Keyring(source, max_age=300, clock=clock)
    first = await keyring.data_key(1)
    clock.now = 299.0
    assert await keyring.data_key(1) == first
    clock.now = 300.0

    assert (await keyring.data_key(1)).wrapped != first.wrapped
    assert source.generated == 2


async def test_concurrent_writers_wait_for_one_new_key() -> None:
    source = CountingKeys()
    keyring = Keyring(source)

    keys = await asyncio.gather(*(keyring.data_key(10) for _ in range(20)))

    assert len({key.wrapped for key in keys}) == 1
    assert source.generated == 1


async def test_readers_unwrap_each_data_key_once() -> None:
    writer_source = CountingKeys()
    key = await Keyring(writer_source).data_key(1)
    reader_source = CountingKeys()
    reader_source.inner = writer_source.inner  # the same keys, in another process
    reader = Keyring(reader_source)

    ciphers = await asyncio.gather(*(reader.cipher(key.version, key.wrapped) for _ in range(50)))
    again = await reader.cipher(key.version, key.wrapped)

    assert all(cipher is again for cipher in ciphers)
    assert reader_source.unwrapped == 1
    assert reader.cached(key.version, key.wrapped) is again


async def test_an_unwrapped_data_key_is_unwrapped_again_after_its_age() -> None:
    clock = Clock()
    source = CountingKeys()
    key = await Keyring(source.inner, clock=clock).data_key(1)
    reader = Keyring(source, max_unwrapped_age=3600, clock=clock)
    await reader.cipher(key.version, key.wrapped)
    clock.now = 3599.0
    assert reader.cached(key.version, key.wrapped) is not None
    clock.now = 3600.0

    assert reader.cached(key.version, key.wrapped) is None
    await reader.cipher(key.version, key.wrapped)
    assert source.unwrapped == 2


async def test_the_unwrapped_cache_is_bounded() -> None:
    source = CountingKeys()
    keyring = Keyring(source, max_uses=1, max_unwrapped=2)
    keys = [await keyring.data_key(1) for _ in range(3)]

    assert keyring.cached(keys[0].version, keys[0].wrapped) is None
    assert keyring.cached(keys[2].version, keys[2].wrapped) is not None


async def test_a_key_that_cannot_be_unwrapped_is_named_without_material() -> None:
    keyring = Keyring(LocalKeys.ephemeral())

    with pytest.raises(UnknownDataKey) as caught:
        await keyring.cipher("local:0badc0de", b"s" * 16)

    assert "local:0badc0de" in str(caught.value)


async def test_reprs_hold_no_key_material() -> None:
    keys = LocalKeys.ephemeral()
    index = await keys.index_key()
    key = await Keyring(keys).data_key(1)

    assert repr(index) == f"IndexKey(bits={index.bits})"
    assert repr(key) == f"DataKey(version={key.version!r})"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Keyring(LocalKeys.ephemeral(), max_uses=0)
