"""The KMS keyring on moto's KMS, in server mode: how often KMS is called, what the
encryption context shows, and what a refusal becomes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from storage import ItemFailed, MemoryStorage, Record
from storage.crypto import Keyring, KeyringMisconfigured, KeyringSpec, KmsKeys, open_keyring
from storage.encrypted import EncryptedStorage
from storage.records import SealedRecord
from tests.dynamodb_fixtures import kms_client

if TYPE_CHECKING:
    from types_aiobotocore_kms.client import KMSClient


class KmsCalls:
    """Every KMS request a client sends: operation and parameters."""

    def __init__(self, client: KMSClient) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.kms.*", self._record)

    def _record(self, *, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


@pytest.fixture
async def kms(moto_endpoint: str) -> AsyncIterator[KMSClient]:
    async with kms_client(moto_endpoint) as client:
        yield client


@pytest.fixture
async def key_arn(kms: KMSClient) -> str:
    return (await kms.create_key(Description="piinguin test"))["KeyMetadata"]["Arn"]


@contextlib.asynccontextmanager
async def kms_store(
    kms: KMSClient, key_id: str, backend: MemoryStorage
) -> AsyncIterator[EncryptedStorage]:
    keys = KmsKeys(kms, key_id, backend, vault="piinguin")
    await keys.resolve()
    yield EncryptedStorage(backend, Keyring(keys), vault="piinguin")


async def test_at_most_one_kms_call_per_thousand_records_written_and_none_per_read(
    moto_endpoint: str, key_arn: str
) -> None:
    backend = MemoryStorage()
    records = [Record(f"key-{n:05d}", f"user{n}@acme.com") for n in range(5000)]
    async with kms_client(moto_endpoint) as writer_client:
        calls = KmsCalls(writer_client)
        async with kms_store(writer_client, key_arn, backend) as store:
            for start in range(0, len(records), 500):
                assert await store.put_many(records[start : start + 500]) == [None] * 500
        writes = calls.count("GenerateDataKey")
    # Another process reads everything back.
    async with kms_client(moto_endpoint) as reader_client:
        calls = KmsCalls(reader_client)
        async with kms_store(reader_client, key_arn, backend) as store:
            got = []
            for start in range(0, len(records), 500):
                got += await store.get_many(
                    [r.modified_value for r in records[start : start + 500]]
                )
        reads = calls.count("Decrypt")

    assert writes / (len(records) / 1000) <= 1
    assert writes == 2  # the data key, and the blind index key once
    assert reads == 2  # the data key, and the blind index key
    assert [r.original_value for r in got if isinstance(r, Record)] == [
        r.original_value for r in records
    ]


async def test_the_encryption_context_never_holds_a_pseudonym(kms: KMSClient, key_arn: str) -> None:
    calls = KmsCalls(kms)
    backend = MemoryStorage()
    async with kms_store(kms, key_arn, backend) as store:
        await store.put_many([Record("7d8a4b-pseudonym", "john@acme.com")])
    async with kms_store(kms, key_arn, backend) as store:
        await store.get_many(["7d8a4b-pseudonym"])

    contexts = [params.get("EncryptionContext") for _, params in calls.calls]
    assert {"GenerateDataKey", "Decrypt"} <= {name for name, _ in calls.calls}
    assert contexts
    for context in contexts:
        if context is not None:
            assert set(context) == {"piinguin", "vault"}
            assert context["vault"] == "piinguin"
    assert "7d8a4b-pseudonym" not in repr(calls.calls)
    assert "john@acme.com" not in repr(calls.calls)


async def test_every_server_shares_the_blind_index_key_stored_first(
    kms: KMSClient, key_arn: str
) -> None:
    backend = MemoryStorage()
    first = KmsKeys(kms, key_arn, backend, vault="piinguin")
    second = KmsKeys(kms, key_arn, backend, vault="piinguin")

    assert await first.index_key() == await second.index_key()
    assert (await first.index_key()).bits == 22


async def test_a_data_key_kms_will_not_unwrap_fails_that_record_only(
    kms: KMSClient, key_arn: str
) -> None:
    backend = MemoryStorage()
    other_arn = (await kms.create_key())["KeyMetadata"]["Arn"]
    async with kms_store(kms, other_arn, backend) as store:
        await store.put_many([Record("elsewhere", "a@acme.com")])
    async with kms_store(kms, key_arn, backend) as store:
        await store.put_many([Record("here", "b@acme.com")])
        [moved] = await backend.get_stored(["elsewhere"])
        assert isinstance(moved, SealedRecord)
        # The record now names this vault's key, but its data key was wrapped by another.
        sealed = moved.sealed._replace(key_version=f"kms:{key_arn}")
        await backend.put_sealed([moved._replace(sealed=sealed)])

        elsewhere, here = await store.get_many(["elsewhere", "here"])

    assert isinstance(elsewhere, ItemFailed)
    assert elsewhere.damaged
    assert "KMS" in elsewhere.reason
    assert isinstance(here, Record)


async def test_a_disabled_or_unknown_key_stops_the_keyring_at_start(
    kms: KMSClient, key_arn: str
) -> None:
    await kms.disable_key(KeyId=key_arn.rpartition("/")[2])  # moto wants the id here

    with pytest.raises(KeyringMisconfigured, match="must be an enabled symmetric"):
        await KmsKeys(kms, key_arn, MemoryStorage(), vault="v").resolve()
    with pytest.raises(KeyringMisconfigured, match="'alias/absent' is missing or not usable"):
        await KmsKeys(kms, "alias/absent", MemoryStorage(), vault="v").resolve()


async def test_the_endpoint_follows_aws_endpoint_url_kms(
    moto_endpoint: str, key_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    async with open_keyring(
        KeyringSpec.parse(f"kms:{key_arn}"), state=MemoryStorage(), vault="v", region="us-east-1"
    ) as keyring:
        key = await keyring.data_key(1)

    assert keyring.current_version == f"kms:{key_arn}"
    assert key.version == f"kms:{key_arn}"


async def test_moving_to_another_kms_key_rewraps_the_blind_index_key(
    kms: KMSClient, key_arn: str
) -> None:
    backend = MemoryStorage()
    old = await KmsKeys(kms, key_arn, backend, vault="piinguin").index_key()
    new_arn = (await kms.create_key())["KeyMetadata"]["Arn"]

    moved = await KmsKeys(kms, new_arn, backend, vault="piinguin").index_key()
    await kms.disable_key(KeyId=key_arn.rpartition("/")[2])  # the old key is retired
    after = await KmsKeys(kms, new_arn, backend, vault="piinguin").index_key()

    assert old == moved == after
    entry = await backend.load_entry("kms-index-key")
    assert entry is not None
    assert f"kms:{new_arn}".encode() in entry
