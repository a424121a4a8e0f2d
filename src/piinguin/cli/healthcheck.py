"""``piinguin-healthcheck``: exit 0 when the server reports SERVING, 1 otherwise.

For container health checks and probes where grpcurl or grpc_health_probe are not at hand.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from piinguin.client import parse_target
from piinguin.v1 import SERVICE_NAME


async def check(target: str, *, timeout: float = 3.0) -> str:  # noqa: ASYNC109  (a gRPC deadline, sent to the server)
    host, port = parse_target(target)
    channel = Channel(host, port)
    try:
        response = await HealthStub(channel).Check(
            HealthCheckRequest(service=SERVICE_NAME), timeout=timeout
        )
    finally:
        channel.close()
    return str(HealthCheckResponse.ServingStatus.Name(response.status))


def run(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = args[0] if args else "127.0.0.1:50051"
    try:
        status = asyncio.run(check(target))
    except Exception as exc:  # noqa: BLE001  (any failure to get an answer is "unhealthy")
        sys.exit(f"piinguin-healthcheck: {target}: {type(exc).__name__}")
    print(status)
    sys.exit(0 if status == "SERVING" else 1)
