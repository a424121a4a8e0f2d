"""aiobotocore's errors translated into storage's, in one place.

    botocore error                                   becomes
    ├── ClientError
    │   ├── throttling codes, any 5xx                Transient (reached=True), retried
    │   ├── ResourceNotFoundException                TablesMissing (StorageMisconfigured)
    │   ├── ValidationException                      StorageMisconfigured: wrong key schema
    │   ├── credential and signature codes           StorageMisconfigured: bad credentials
    │   ├── AccessDeniedException                    StorageMisconfigured: not authorised
    │   └── anything else                            StorageUnavailable, naming the code
    ├── connection errors, timeouts                  Transient (reached=False), retried
    └── no credentials or region                     StorageMisconfigured

``Transient`` is a ``StorageUnavailable``: the batch machinery retries it until its
deadline, and a single request (``check``) lets it out as it is. Every message is written
here: none carries DynamoDB's own text, which can quote the values of a request.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Literal

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    WaiterError,
)

from storage.dynamodb.items import KEY
from storage.errors import StorageError, StorageMisconfigured, StorageUnavailable

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidClientTokenId",
        "ExpiredTokenException",
    }
)
_CONNECTION_ERRORS = (ConnectionError, HTTPClientError)
_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoRegionError,
)
_MISCONFIGURED = {
    "ValidationException": (
        "DynamoDB rejected a request to table {table!r} as invalid: check that its key is "
        "a single string HASH key {key!r}"
    ),
    "AccessDeniedException": "the AWS credentials are not allowed to use DynamoDB table {table!r}",
    **dict.fromkeys(CREDENTIAL_CODES, "DynamoDB did not accept the AWS credentials"),
}
_SAFE_CODE = re.compile(r"[A-Za-z0-9.:#_-]{1,64}")


class TablesMissing(StorageMisconfigured):
    """Tables that do not exist in this account and region: ``ensure_tables(create=True)``
    makes them (development), infrastructure code otherwise."""

    def __init__(self, tables: Sequence[str]) -> None:
        self.tables = tuple(tables)
        names = ", ".join(repr(name) for name in self.tables)
        if len(self.tables) == 1:
            super().__init__(f"DynamoDB table {names} does not exist in this account and region")
        else:
            super().__init__(f"DynamoDB tables {names} do not exist in this account and region")


#: Why a batch request is tried again: a fixed set, so it can label a metric.
RetryReason = Literal["unprocessed", "throttled", "failed", "unreachable"]
RETRY_REASONS: tuple[RetryReason, ...] = ("unprocessed", "throttled", "failed", "unreachable")


class Transient(StorageUnavailable):
    """Worth another try: DynamoDB throttled us or failed inside (``reached``), or could
    not be reached at all."""

    def __init__(self, message: str, *, reached: bool, kind: RetryReason) -> None:
        super().__init__(message)
        self.reached = reached
        self.kind = kind


@contextlib.contextmanager
def map_dynamodb_errors(table_name: str) -> Iterator[None]:
    """Re-raise what the DynamoDB client raises inside as a ``StorageError``."""
    try:
        yield
    except ClientError as exc:
        raise _from_client_error(exc, table_name) from exc
    except _CONNECTION_ERRORS as exc:
        raise Transient("DynamoDB could not be reached", reached=False, kind="unreachable") from exc
    except _CREDENTIAL_ERRORS as exc:
        raise StorageMisconfigured("no usable AWS credentials or region for DynamoDB") from exc
    except WaiterError as exc:
        raise StorageUnavailable(f"DynamoDB table {table_name!r} did not become ACTIVE") from exc


def _from_client_error(exc: ClientError, table_name: str) -> StorageError:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLING_CODES:
        return Transient("DynamoDB throttled the request", reached=True, kind="throttled")
    if status >= 500:
        return Transient("DynamoDB failed to handle the request", reached=True, kind="failed")
    if code == "ResourceNotFoundException":  # we use no indexes: it is the table
        return TablesMissing([table_name])
    if code in _MISCONFIGURED:
        return StorageMisconfigured(_MISCONFIGURED[code].format(table=table_name, key=KEY))
    shown = code if _SAFE_CODE.fullmatch(code) else "unrecognised"
    return StorageUnavailable(f"DynamoDB refused a request to table {table_name!r} ({shown})")
