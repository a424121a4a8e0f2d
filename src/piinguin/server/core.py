"""The gRPC server: Piinguin's service with health, reflection, call tracking and drain."""

from __future__ import annotations

import asyncio
import socket
import ssl
import weakref
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

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
from piinguin.receipts import ReceiptSigner
from piinguin.server.calls import CallTracker
from piinguin.server.coalesce import coalesce_writes
from piinguin.server.grpclib_internals import close_connection
from piinguin.server.guard.limits import WireLimits
from piinguin.server.guard.registry import guard_connections
from piinguin.server.metrics import Metrics
from piinguin.services.legacy import LegacyPiinguinService
from piinguin.services.subjects import SaltEpoch
from piinguin.services.vault import PiinguinService
from piinguin.v1 import DESCRIPTOR_POOL
from storage import AuditStore, StorageError, SubjectStorage

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
    """Piinguin's grpclib ``Server`` and the state around it; storage is owned by the caller.

    ``async with PiinguinServer(...) as server`` binds its socket and listens (``server.port``
    is the port, the kernel's pick for port 0) with health NOT_SERVING; ``wait_ready`` turns
    it SERVING once storage answers. Leaving the block drains: NOT_SERVING, refuse new calls,
    let the ones in flight finish within ``grace_period`` seconds, then close.
    ``legacy_api`` also serves the original piinguin's protocol (``piinguin.services.legacy``);
    ``reuse_port`` lets ``--workers`` processes listen on one port; ``wire`` limits what
    a peer may hold (``piinguin.server.guard``); ``metrics`` counts its calls, refusals,
    audit failures and readiness; ``unauthenticated_audit_budget`` is how many calls failing
    authentication are audited one by one per peer address and second
    (``piinguin.access.unauthenticated``); ``receipt_signer`` signs erasure receipts
    (``piinguin.receipts``; none: a key made now, whose receipts die with the process).
    (``piinguin.access.unauthenticated``); ``salts`` are Snowplow's PII salts
    (``--pii-salts``), for finding a person's records by recomputing their pseudonyms.
    """

    def __init__(
        self,
        storage: SubjectStorage,
        *,
        auth: Authenticator,
        audit: AuditStore,
        max_bulk_items: int,
        max_message_bytes: int,
        legacy_api: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
        grace_period: float = 10.0,
        wire: WireLimits | None = None,
        metrics: Metrics | None = None,
        unauthenticated_audit_budget: int = 100,
        receipt_signer: ReceiptSigner | None = None,
        salts: Sequence[SaltEpoch] = (),
    ) -> None:
        self.storage = storage
        self.audit = audit
        self.auth = auth
        self.grace_period = grace_period
        self._address = (host, port)
        self._ssl_context = ssl_context
        self._reuse_port = reuse_port
        self.metrics = metrics
        self._auditor = auditor = Auditor(
            audit,
            failed=(lambda: None) if metrics is None else metrics.audit_failures.inc,
            unauthenticated_per_second=unauthenticated_audit_budget,
        )
        gate = Gatekeeper(auditor)
        self.service = PiinguinService(
            storage, gate, max_bulk_items=max_bulk_items, salts=salts, signer=receipt_signer
        )
        apis: list[PiinguinService | LegacyPiinguinService] = [self.service]
        if legacy_api:
            apis.append(LegacyPiinguinService(storage, gate, max_bulk_items=max_bulk_items))
        self.serving = ServiceStatus()
        self.serving.set(False)
        self.health = Health({api: [self.serving] for api in apis})
        services = ServerReflection.extend([*apis, self.health], pool=_reflection_pool())
        self.tracker = CallTracker(auth, auditor, metrics)
        self.grpc = Server(
            [self.tracker.wrap(service) for service in services],
            codec=LimitedProtoCodec(max_message_bytes),
        )
        self._port: int | None = None
        self._stopped: asyncio.Future[None] | None = None
        # grpclib's close() stops listening and cancels calls but leaves client connections
        # open; drain closes them, so it keeps each connection's protocol.
        self._connections: weakref.WeakSet[H2Protocol] = weakref.WeakSet()
        self.connections = guard_connections(
            self.grpc, replace(wire or WireLimits(), max_message_bytes=max_message_bytes)
        )
        coalesce_writes(self.grpc, self._connections.add)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not listening: use it as `async with`")
        return self._port

    async def __aenter__(self) -> Self:
        # The socket is ours so that its port is ours to read: grpclib keeps its listener
        # private, and port 0 means the kernel picks.
        sock = bind_socket(*self._address, reuse_port=self._reuse_port)
        try:
            await self.grpc.start(sock=sock, ssl=self._ssl_context)
        except BaseException:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.drain()

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
        if self.metrics is not None:
            self.metrics.ready.set(1)
        log.info("serving")

    async def drain(self, grace_period: float | None = None) -> None:
        """Stop gracefully within ``grace_period`` (default: the server's). Leaving the
        ``async with`` block drains; a drain already under way is waited for, not repeated."""
        if self._stopped is None:
            period = self.grace_period if grace_period is None else grace_period
            # New calls are refused from this call on, not from the next loop turn.
            self.serving.set(False)
            if self.metrics is not None:
                self.metrics.ready.set(0)
            self.tracker.draining = True
            log.info("draining", in_flight=self.tracker.in_flight, grace_period_s=period)
            self._stopped = asyncio.ensure_future(self._close(period))
        # Shielded: a waiter that gives up must not leave the server half closed; the grace
        # period already bounds how long the drain takes.
        await asyncio.shield(self._stopped)

    async def _close(self, grace_period: float) -> None:
        try:
            async with asyncio.timeout(grace_period):
                await self.tracker.wait_idle()
        except TimeoutError:
            log.warning("grace_period_over", cancelled=self.tracker.in_flight)
        self.grpc.close()
        await self.grpc.wait_closed()
        # No call comes any more: write the unauthenticated calls still only counted.
        await self._auditor.unauthenticated.close()
        for protocol in list(self._connections):
            close_connection(protocol, "server stopped")
        log.info("stopped")


def bind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound, not yet listening, to the first address ``host`` resolves to.

    ``reuse_port`` sets SO_REUSEPORT, so that several processes can bind the same port and
    the kernel spreads connections across them (``--workers``).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio's create_server does: a restart may bind while old connections linger
        # in TIME_WAIT, and an IPv6 address means IPv6 only.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock
