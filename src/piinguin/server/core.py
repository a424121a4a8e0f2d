"""The gRPC server: Piinguin's service with health, reflection, call tracking and drain."""

from __future__ import annotations

import asyncio
import ssl
import weakref

import structlog
from grpclib.health.check import ServiceStatus
from grpclib.health.service import Health
from grpclib.health.v1 import health_pb2
from grpclib.protocol import H2Protocol
from grpclib.reflection.service import ServerReflection
from grpclib.server import Server

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Authenticator
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.codec import LimitedProtoCodec
from piinguin.server.calls import CallTracker
from piinguin.server.coalesce import coalesce_writes
from piinguin.server.grpclib_internals import close_connection, listening_port
from piinguin.services.legacy import LegacyPiinguinService
from piinguin.services.vault import PiinguinService
from piinguin.v1 import DESCRIPTOR_POOL
from storage import Storage, StorageError
from storage.audit import AuditStore

log = structlog.get_logger("piinguin.server")


def _reflection_pool() -> object:
    # Reflection describes from the generated pool; give it the health proto as well so
    # `grpcurl describe grpc.health.v1.Health` works too.
    try:
        DESCRIPTOR_POOL.FindFileByName(health_pb2.DESCRIPTOR.name)
    except KeyError:
        DESCRIPTOR_POOL.AddSerializedFile(health_pb2.DESCRIPTOR.serialized_pb)
    return DESCRIPTOR_POOL


class PiinguinServer:
    """Owns a grpclib ``Server`` and the state around it; storage is owned by the caller.

    ``legacy_api`` also serves the original piinguin's protocol (``piinguin.services.legacy``).
    ``start`` listens, ``wait_ready`` turns health SERVING once storage answers, and
    ``drain`` is the graceful stop: NOT_SERVING, refuse new calls, let the ones in flight
    finish within a grace period, then close.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        auth: Authenticator,
        audit: AuditStore,
        max_bulk_items: int,
        max_message_bytes: int,
        legacy_api: bool = False,
    ) -> None:
        self.storage = storage
        self.audit = audit
        self.auth = auth
        auditor = Auditor(audit)
        gate = Gatekeeper(auditor)
        self.service = PiinguinService(storage, gate, max_bulk_items=max_bulk_items)
        apis: list[PiinguinService | LegacyPiinguinService] = [self.service]
        if legacy_api:
            apis.append(LegacyPiinguinService(storage, gate, max_bulk_items=max_bulk_items))
        self.serving = ServiceStatus()
        self.serving.set(False)
        self.health = Health({api: [self.serving] for api in apis})
        services = ServerReflection.extend([*apis, self.health], pool=_reflection_pool())
        self.tracker = CallTracker(auth, auditor)
        self.grpc = Server(
            [self.tracker.wrap(service) for service in services],
            codec=LimitedProtoCodec(max_message_bytes),
        )
        self.port: int | None = None
        # grpclib's close() stops listening and cancels calls but leaves client connections
        # open; drain closes them, so it keeps each connection's protocol.
        self._connections: weakref.WeakSet[H2Protocol] = weakref.WeakSet()
        coalesce_writes(self.grpc, self._connections.add)

    async def start(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
    ) -> int:
        await self.grpc.start(host, port, ssl=ssl_context, reuse_port=reuse_port)
        self.port = listening_port(self.grpc)
        return self.port

    async def wait_ready(self, *, retry_interval: float = 2.0) -> None:
        """Check storage until it answers, then report SERVING."""
        while True:
            try:
                await self.storage.check()
                await self.audit.check()
            except StorageError as exc:
                log.error("storage_not_ready", error=str(exc), retry_in_s=retry_interval)
                await asyncio.sleep(retry_interval)
            else:
                break
        self.serving.set(True)
        log.info("serving")

    async def drain(self, grace_period: float) -> None:
        self.serving.set(False)
        self.tracker.draining = True
        log.info("draining", in_flight=self.tracker.in_flight, grace_period_s=grace_period)
        try:
            async with asyncio.timeout(grace_period):
                await self.tracker.wait_idle()
        except TimeoutError:
            log.warning("grace_period_over", cancelled=self.tracker.in_flight)
        self.grpc.close()
        await self.grpc.wait_closed()
        for protocol in list(self._connections):
            close_connection(protocol, "server stopped")
        log.info("stopped")
