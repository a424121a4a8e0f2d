"""AWS for the relay's tests: moto in server mode, reached over HTTP by the code under
test (botocore for secrets, aioboto3 for Kinesis and SQS) exactly as it reaches AWS.

``aws`` (the fixture, in ``conftest.py``) points the standard AWS environment variables
(credentials, ``AWS_ENDPOINT_URL_<SERVICE>``) at the session's moto server, so code that
builds its own clients finds it; ``Aws`` sets up secrets, parameters, streams and queues
with aioboto3.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import aioboto3

REGION = "eu-west-1"
Service = Literal["secretsmanager", "ssm", "kinesis", "sqs"]
#: The variables the fixture sets; ``SECRETS_MANAGER`` is botocore's spelling of the
#: service id "Secrets Manager".
ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_SQS",
)


def environment(endpoint: str) -> dict[str, str]:
    """What a process needs to reach moto instead of AWS: fake credentials, endpoints."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        **dict.fromkeys(ENDPOINT_VARIABLES, endpoint),
    }


@functools.cache
def _session() -> aioboto3.Session:
    """One session for every test: loading botocore's service models once saves seconds."""
    return aioboto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Aws:
    endpoint: str

    @contextlib.asynccontextmanager
    async def client(self, service: Service) -> AsyncIterator[Any]:
        async with _session().client(service, endpoint_url=self.endpoint) as client:
            yield client

    async def secret(self, value: str) -> str:
        """A new Secrets Manager secret holding ``value``; its ARN."""
        async with self.client("secretsmanager") as client:
            answer = await client.create_secret(Name=unique("piinguin/relay"), SecretString=value)
        return str(answer["ARN"])

    async def rotate(self, arn: str, value: str) -> None:
        async with self.client("secretsmanager") as client:
            await client.put_secret_value(SecretId=arn, SecretString=value)

    async def parameter(self, value: str, *, secure: bool = True) -> str:
        """A new SSM parameter holding ``value``, a SecureString unless ``secure`` is false;
        its ARN."""
        name = unique("/piinguin/relay")
        async with self.client("ssm") as client:
            await client.put_parameter(
                Name=name, Value=value, Type="SecureString" if secure else "String"
            )
            answer = await client.get_parameter(Name=name)
        return str(answer["Parameter"]["ARN"])

    async def stream(self, lines: list[bytes]) -> tuple[str, str, list[str]]:
        """A new one-shard Kinesis stream holding ``lines``, one record each, in order; its
        ARN, the shard's id, and each record's sequence number."""
        name = unique("pii")
        async with self.client("kinesis") as kinesis:
            await kinesis.create_stream(StreamName=name, ShardCount=1)
            summary = await kinesis.describe_stream_summary(StreamName=name)
            arn = summary["StreamDescriptionSummary"]["StreamARN"]
            shard, numbers = "", []
            for line in lines:
                put = await kinesis.put_record(StreamARN=arn, Data=line, PartitionKey="pii")
                shard = put["ShardId"]
                numbers.append(put["SequenceNumber"])
        return arn, shard, numbers

    async def queue(self, *bodies: str) -> str:
        """A new SQS queue holding a message for each of ``bodies``; its URL."""
        async with self.client("sqs") as sqs:
            url = (await sqs.create_queue(QueueName=unique("skipped-batches")))["QueueUrl"]
            for body in bodies:
                await sqs.send_message(QueueUrl=url, MessageBody=body)
        return str(url)

    async def queue_depth(self, url: str) -> int:
        """Messages on the queue, visible or not (being replayed, or left to come back)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        async with self.client("sqs") as sqs:
            answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return sum(int(answer["Attributes"][name]) for name in names)
