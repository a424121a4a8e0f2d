"""Talks to a server with grpcio's own health and reflection clients, in its own process.

grpcio-health-checking and grpclib both register ``grpc.health.v1`` in protobuf's default
descriptor pool, so they cannot share one interpreter. Usage:

    python grpcio_probe.py health PORT SERVICE   -> prints SERVING / NOT_SERVING / ERROR
    python grpcio_probe.py reflect PORT          -> prints JSON {services, methods}
"""

from __future__ import annotations

import json
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def health(port: int, service: str) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=5
            )
        except grpc.RpcError as exc:
            return f"ERROR {exc.code().name}"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def reflect(port: int) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        file = database.FindFileContainingSymbol("piinguin.v1.Piinguin")
        methods = [m.name for m in file.service[0].method]
        return json.dumps({"services": services, "methods": methods})


if __name__ == "__main__":
    command, port = sys.argv[1], int(sys.argv[2])
    print(health(port, sys.argv[3]) if command == "health" else reflect(port))
