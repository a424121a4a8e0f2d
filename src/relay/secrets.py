"""Settings kept in AWS Secrets Manager or SSM Parameter Store, named by ARN.

The relay reads its bearer token, and its TLS CA, certificate and key, from a secret
when ``PIINGUIN_*_SECRET`` names one: the ARN of a Secrets Manager secret (its whole
``SecretString``) or of an SSM parameter (``String`` or ``SecureString``, decrypted).
The ARN says which service, region and account to ask, so the template can grant
read access to exactly that resource.

**botocore, not aioboto3.** A secret is read once per process, before the event loop
starts: one synchronous call is all it takes. Lambda's Python runtime ships botocore,
so the deployment zip carries none of it (``tools/package_relay.py`` leaves it out),
and botocore brings what a hand-signed HTTP call would have to redo: the credential
chain (Lambda's role, through environment variables), SigV4, retries, endpoint
resolution (``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_ENDPOINT_URL_SSM``). It is
imported only when a secret is configured, so a relay without one starts as fast as
before.

A value is never logged, nor put in an error: errors carry the ARN and AWS's error
code only.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

#: Secrets Manager: ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX``;
#: SSM: ``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME``.
_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:(?P<secretsmanager>secretsmanager):(?P<sm_region>[a-z0-9-]+):"
    r"[0-9]{12}:secret:.+|(?P<ssm>ssm):(?P<ssm_region>[a-z0-9-]+):[0-9]{12}:parameter/.+)"
)
#: botocore's own settings for the one call: fail within seconds, not minutes.
CONNECT_TIMEOUT_SEC, READ_TIMEOUT_SEC, ATTEMPTS = 3, 5, 3


class SecretRef(NamedTuple):
    """Where a secret is: its ARN, and the service and region that ARN names."""

    arn: str
    service: str  # "secretsmanager" or "ssm", botocore's service names
    region: str


class SecretUnavailable(Exception):
    """The secret could not be read; the message is AWS's error code, or what failed."""


def parse_secret_arn(text: str) -> SecretRef:
    """The reference an ARN makes; ``ValueError`` for anything else."""
    match = _ARN.fullmatch(text)
    if match is None:
        # What was given is not repeated: a token pasted where its ARN belongs is a secret.
        raise ValueError(
            "expected the ARN of a Secrets Manager secret or an SSM parameter "
            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME or "
            "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME), which this is not"
        )
    if match["secretsmanager"]:
        return SecretRef(text, "secretsmanager", match["sm_region"])
    return SecretRef(text, "ssm", match["ssm_region"])


def fetch_secret(ref: SecretRef) -> str:
    """The secret's text, read with botocore; ``SecretUnavailable`` if it cannot be."""
    # Imported here: botocore costs a cold start some 100 ms, paid only when a secret is
    # configured; it is the Lambda runtime's copy, not one in the zip.
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SEC,
        read_timeout=READ_TIMEOUT_SEC,
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
    )
    # botocore-stubs types every client as BaseClient, without the service's methods.
    client: Any = _session().create_client(ref.service, region_name=ref.region, config=config)
    try:
        if ref.service == "secretsmanager":
            answer = client.get_secret_value(SecretId=ref.arn)
            if "SecretString" in answer:
                return str(answer["SecretString"])
            return bytes(answer["SecretBinary"]).decode()
        answer = client.get_parameter(Name=ref.arn, WithDecryption=True)
        return str(answer["Parameter"]["Value"])
    except ClientError as exc:
        raise SecretUnavailable(str(exc.response.get("Error", {}).get("Code"))) from None
    except BotoCoreError as exc:
        # The class only: some botocore messages quote the response body.
        raise SecretUnavailable(type(exc).__name__) from None
    except UnicodeDecodeError:
        raise SecretUnavailable("its SecretBinary is not UTF-8 text") from None
    finally:
        client.close()


@functools.cache
def _session() -> Any:
    """One botocore session per process: it loads endpoint and service data once for
    every secret read (some 100 ms each time otherwise)."""
    from botocore.session import get_session  # noqa: PLC0415, TID251  (sync, before the loop)

    return get_session()
