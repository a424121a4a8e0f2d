"""AWS KMS as the key provider (``kms:KEY_ID_OR_ARN``), through aioboto3.

Data keys come from ``GenerateDataKey`` (AES-256); their ciphertext blobs rest beside the
values they encrypt and go back to ``Decrypt`` (with the key's ARN, so KMS decrypts with
that key or not at all) the first time a reader meets them. ``Keyring`` caches both ways,
so KMS sees one call per data key, never one per record.

The encryption context, which CloudTrail shows in clear, names only what the key is for
and the vault (the records table's name): never a pseudonym or a value.

The blind index key must outlive every process, so it is a data key too, generated once
and kept wrapped in the vault's own keyring state (``KeyringState``: the DynamoDB key
table, or the memory backend); whoever stores it first wins, and everyone reads that one.
Once the keyring names another KMS key, the first server to start re-wraps it under that
key with ``ReEncrypt`` (its plaintext never leaves KMS), so the old key can be retired.

The endpoint follows ``AWS_ENDPOINT_URL_KMS`` (botocore reads it), as DynamoDB's follows
``--dynamodb-endpoint``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from storage.crypto.keyring import (
    KEY_BYTES,
    IndexKey,
    KeyringMisconfigured,
    KeyringUnavailable,
    UnknownDataKey,
)

if TYPE_CHECKING:
    from types_aiobotocore_kms.client import KMSClient

#: The state entry that holds the blind index key, wrapped by KMS.
INDEX_ENTRY = "kms-index-key"
_THROTTLED = frozenset({"ThrottlingException", "LimitExceededException", "KMSInternalException"})
#: Errors about one blob or the key that wrapped it: that record is unreadable, no other.
_NOT_THIS_KEY = {
    "InvalidCiphertextException": "KMS refused its data key as not valid for this key",
    "IncorrectKeyException": "its data key was wrapped by another KMS key",
    "NotFoundException": "the KMS key of its data key does not exist",
    "DisabledException": "the KMS key of its data key is disabled",
    "KMSInvalidStateException": "the KMS key of its data key is not usable (pending deletion?)",
    "AccessDeniedException": "KMS would not unwrap its data key for these credentials",
}
_SAFE_CODE = re.compile(r"[A-Za-z0-9.:#_-]{1,64}")


class KeyringState(Protocol):
    """Where a keyring keeps what must outlive processes (wrapped, never in clear)."""

    async def load_entry(self, name: str) -> bytes | None: ...

    async def store_entry(self, name: str, value: bytes) -> bytes:
        """Store ``value`` under ``name`` unless something is stored there already;
        answer what is stored."""
        ...

    async def replace_entry(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, whatever was there."""
        ...


def open_kms_client(*, region: str | None = None) -> AbstractAsyncContextManager[KMSClient]:
    """The server's one KMS client; credentials from the AWS chain, the endpoint from
    ``AWS_ENDPOINT_URL_KMS`` when set."""
    return aioboto3.Session().client(
        "kms",
        region_name=region,
        config=AioConfig(
            connect_timeout=3,
            read_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 3},
        ),
    )


@contextlib.contextmanager
def map_kms_errors(key_id: str, *, per_item: bool = False) -> Iterator[None]:
    """KMS's errors as the keyring's; ``per_item`` lets a blob's own problems out as
    ``UnknownDataKey``. No message carries KMS's own text."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status >= 500:
            raise KeyringUnavailable("KMS throttled or failed the request") from exc
        if per_item and code in _NOT_THIS_KEY:
            raise UnknownDataKey(_NOT_THIS_KEY[code]) from exc
        if code in {"NotFoundException", "DisabledException", "KMSInvalidStateException"}:
            raise KeyringMisconfigured(f"KMS key {key_id!r} is missing or not usable") from exc
        if code == "AccessDeniedException":
            raise KeyringMisconfigured(
                f"the AWS credentials may not use KMS key {key_id!r}"
            ) from exc
        shown = code if _SAFE_CODE.fullmatch(code) else "unrecognised"
        raise KeyringMisconfigured(f"KMS refused a request for key {key_id!r} ({shown})") from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise KeyringUnavailable("KMS could not be reached") from exc
    except BotoCoreError as exc:  # no credentials, no region and the like
        raise KeyringMisconfigured(f"cannot use KMS: {type(exc).__name__}") from exc


class KmsKeys:
    """The ``KeySource`` of one KMS key. ``resolve()`` checks that the key exists and is
    enabled and learns its ARN, which names the version of every data key made under it;
    it runs before the first data key or index key is made (for a server: while it gets
    ready, so an unreachable KMS is retried, not fatal)."""

    def __init__(
        self,
        client: KMSClient,
        key_id: str,
        state: KeyringState,
        *,
        vault: str,
        index_bits: int = 22,
    ) -> None:
        self._client = client
        self._key_id = key_id
        self._arn = key_id if key_id.startswith("arn:") and ":key/" in key_id else ""
        self._resolved = False
        self._state = state
        self._index_bits = index_bits
        self._data_context = {"piinguin": "data-key", "vault": vault}
        self._index_context = {"piinguin": "index-key", "vault": vault}

    async def resolve(self) -> None:
        with map_kms_errors(self._key_id):
            response = await self._client.describe_key(KeyId=self._key_id)
        metadata = response["KeyMetadata"]
        if not metadata.get("Enabled", False) or metadata.get("KeySpec") != "SYMMETRIC_DEFAULT":
            raise KeyringMisconfigured(
                f"KMS key {self._key_id!r} must be an enabled symmetric encryption key"
            )
        self._arn = metadata["Arn"]
        self._resolved = True

    @property
    def current_version(self) -> str:
        return f"kms:{self._arn or self._key_id}"

    def describe(self) -> str:
        return f"kms {self._arn or self._key_id}"

    async def generate(self) -> tuple[bytes, bytes]:
        if not self._resolved:
            await self.resolve()
        return await self._generate(self._data_context)

    async def _generate(self, context: dict[str, str]) -> tuple[bytes, bytes]:
        with map_kms_errors(self._key_id):
            response = await self._client.generate_data_key(
                KeyId=self._arn or self._key_id, KeySpec="AES_256", EncryptionContext=context
            )
        if not self._arn:
            self._arn = response["KeyId"]
        return response["CiphertextBlob"], response["Plaintext"]

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        return await self._decrypt(version, wrapped, self._data_context)

    async def _decrypt(self, version: str, wrapped: bytes, context: dict[str, str]) -> bytes:
        scheme, _, key_id = version.partition(":")
        if scheme != "kms" or not key_id:
            raise UnknownDataKey(f"key version {version!r} is not a KMS key")
        with map_kms_errors(key_id, per_item=True):
            response = await self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=key_id, EncryptionContext=context
            )
        plaintext = response["Plaintext"]
        if len(plaintext) != KEY_BYTES:
            raise UnknownDataKey("KMS answered a data key of the wrong size")
        return plaintext

    async def index_key(self) -> IndexKey:
        """The blind index key: the stored one, or a new one stored for everyone."""
        if not self._resolved:
            await self.resolve()
        entry = await self._state.load_entry(INDEX_ENTRY)
        if entry is None:
            wrapped, _ = await self._generate(self._index_context)
            candidate = bytes([self._index_bits]) + self.current_version.encode() + b"\0" + wrapped
            entry = await self._state.store_entry(INDEX_ENTRY, candidate)
        bits, rest = entry[0], entry[1:]
        version, _, wrapped = rest.partition(b"\0")
        try:
            key = await self._decrypt(version.decode(), wrapped, self._index_context)
        except UnknownDataKey as exc:
            raise KeyringMisconfigured(f"the blind index key cannot be unwrapped: {exc}") from exc
        if version.decode() != self.current_version:
            await self._rewrap_index_key(bits, version.decode(), wrapped)
        return IndexKey(key, bits)

    async def _rewrap_index_key(self, bits: int, version: str, wrapped: bytes) -> None:
        source = version.partition(":")[2]
        with map_kms_errors(self._key_id):
            response = await self._client.re_encrypt(
                CiphertextBlob=wrapped,
                SourceKeyId=source,
                SourceEncryptionContext=self._index_context,
                DestinationKeyId=self._arn,
                DestinationEncryptionContext=self._index_context,
            )
        entry = bytes([bits]) + self.current_version.encode() + b"\0" + response["CiphertextBlob"]
        await self._state.replace_entry(INDEX_ENTRY, entry)
