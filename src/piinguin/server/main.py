"""``piinguin-server``: the entry point. Reads config, sets up logging, owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from botocore.exceptions import BotoCoreError, NoRegionError

from piinguin.access.auth import Authenticator
from piinguin.access.policy import PolicyError
from piinguin.logs import configure_logging
from piinguin.options import OptionError
from piinguin.receipts import ReceiptError, ReceiptSigner
from piinguin.server import PiinguinServer, metrics
from piinguin.server.config import ServerConfig
from piinguin.server.salts import SaltsError, describe, load_salts
from piinguin.server.workers import supervise
from piinguin.services.subjects import SaltEpoch
from piinguin.tls import server_context
from storage import AuditStore, MemoryAuditStore, MemoryStorage, StorageError, SubjectStorage
from storage.base import SealedStorage
from storage.crypto import NATIVE, KeyringMisconfigured, open_keyring
from storage.dynamodb import (
    BatchObserver,
    DynamoDBAuditStore,
    DynamoDBStorage,
    TablesMissing,
    ensure_tables,
    open_client,
)
from storage.encrypted import EncryptedStorage
from storage.retention import Retention, RetentionError

log = structlog.get_logger("piinguin.main")


#: Seconds between two tries at getting storage ready, while health says NOT_SERVING.
READY_POLL_SECONDS = 2.0


async def _ready_as_it_is() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Backends:
    records: SubjectStorage
    audit: AuditStore
    #: Makes storage ready to serve, or raises ``StorageError`` saying why: polled until
    #: it returns.
    prepare: Callable[[], Awaitable[None]] = _ready_as_it_is


#: What the server says at start and once serving under ``--insecure-no-encryption``.
INSECURE_NO_ENCRYPTION = "originals are stored in clear: --insecure-no-encryption"


@contextlib.asynccontextmanager
async def encrypted(config: ServerConfig, backend: SealedStorage) -> AsyncIterator[SubjectStorage]:
    """``backend`` behind encryption at rest with the configured keyring, or as it is
    under ``--insecure-no-encryption`` (said at start, and again once serving)."""
    spec = config.keyring_spec
    if spec is None:
        log.warning("insecure_no_encryption", detail=INSECURE_NO_ENCRYPTION)
        yield backend
        return
    try:
        opened = open_keyring(spec, state=backend, vault=config.vault_name, region=config.region)
        async with opened as keyring:
            # "pure-python": the C sealer was not built here (hatch_build.py), which costs
            # about 0.9 us of CPU more a record written, 0.7 us a record read.
            log.info(
                "encryption",
                keyring=keyring.describe(),
                vault=config.vault_name,
                sealer="c" if NATIVE else "pure-python",
            )
            yield EncryptedStorage(backend, keyring, vault=config.vault_name)
    except KeyringMisconfigured as exc:
        raise OptionError("--keyring", str(exc)) from exc


def retention_policy(config: ServerConfig) -> Retention | None:
    """The ``--retention`` file's policy, checked at start; ``None``: records never expire."""
    if config.retention is None:
        return None
    path = Path(config.retention)
    try:
        retention = Retention.from_toml(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as exc:
        raise OptionError("--retention", f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise OptionError("--retention", f"{path}: not UTF-8 text") from exc
    except RetentionError as exc:
        raise OptionError("--retention", str(exc)) from exc
    log.info(
        "retention",
        path=str(path),
        default=str(retention.default) if retention.default is not None else "never",
        fields=len(retention.fields),
    )
    return retention


#: What the server says at start without ``--receipt-key``.
EPHEMERAL_RECEIPT_KEY = (
    "erasure receipts are signed with a key made at start: they cannot be verified after "
    "a restart, nor across --workers; give --receipt-key"
)


def receipt_signer(config: ServerConfig) -> ReceiptSigner:
    """The ``--receipt-key`` file's signer, checked at start, or a key made now (said)."""
    if config.receipt_key is None:
        signer = ReceiptSigner.generate()
        log.warning("ephemeral_receipt_key", detail=EPHEMERAL_RECEIPT_KEY, key_id=signer.key_id)
        return signer
    try:
        signer = ReceiptSigner.load(Path(config.receipt_key))
    except ReceiptError as exc:  # names the file, never the key's bytes
        raise OptionError("--receipt-key", str(exc)) from exc
    log.info("receipt_key", path=config.receipt_key, key_id=signer.key_id)
    return signer


async def pii_salts(config: ServerConfig) -> list[SaltEpoch]:
    """The ``--pii-salts`` file's epochs, each salt read once, at start; none without it."""
    if config.pii_salts is None:
        return []
    try:
        epochs = await load_salts(Path(config.pii_salts))
    except SaltsError as exc:
        raise OptionError("--pii-salts", str(exc)) from exc
    log.info("pii_salts", path=config.pii_salts, epochs=describe(epochs))
    return epochs


@contextlib.asynccontextmanager
async def open_backends(
    config: ServerConfig,
    *,
    observer: BatchObserver | None = None,
    retention: Retention | None = None,
) -> AsyncIterator[Backends]:
    """The stores ``config`` chooses, open for the block; DynamoDB's retries are told to
    ``observer`` (the metrics); records expire as ``retention`` says."""
    if config.storage == "memory":
        log.warning("memory_storage", detail="records live in this process and are lost on exit")
        async with encrypted(config, MemoryStorage(retention=retention)) as records:
            yield Backends(records, MemoryAuditStore())
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                open_client(endpoint_url=config.dynamodb_endpoint, region=config.region)
            )
        except NoRegionError as exc:
            raise OptionError("--region", "no AWS region: give --region or set AWS_REGION") from exc
        except BotoCoreError as exc:  # e.g. an AWS_PROFILE that is not configured
            raise OptionError("--storage", f"cannot set up a DynamoDB client: {exc}") from exc
        log.info(
            "dynamodb",
            table=config.table,
            audit_table=config.audit_table,
            region=client.meta.region_name,
            endpoint=config.dynamodb_endpoint or "aws",
            create_table=config.create_table,
            key_table=config.key_table if config.keyring_spec is not None else None,
        )
        sealing = config.keyring_spec is not None
        key_table = config.key_table if sealing else None
        records = DynamoDBStorage(
            client, config.table, key_table=key_table, observer=observer, retention=retention
        )
        async with encrypted(config, records) as storage:
            yield Backends(
                storage,
                DynamoDBAuditStore(client, config.audit_table, observer=observer),
                functools.partial(
                    ensure_tables,
                    client,
                    table=config.table,
                    audit_table=config.audit_table,
                    key_table=key_table,
                    create_missing=config.create_table,
                ),
            )


async def become_ready(server: PiinguinServer, backends: Backends) -> None:
    """Prepare storage until it is ready (its tables in place, created first under
    ``--create-table``), saying why not every few seconds; then report SERVING once the
    server's stores answer."""
    while True:
        try:
            await backends.prepare()
        except TablesMissing as exc:
            them = "it" if len(exc.tables) == 1 else "them"
            error = (
                f"{exc}: create {them} as the README's DynamoDB section shows, "
                "or start with --create-table (development only)"
            )
        except StorageError as exc:
            error = str(exc)
        else:
            break
        log.error("storage_not_ready", error=error, retry_in_s=READY_POLL_SECONDS)
        await asyncio.sleep(READY_POLL_SECONDS)
    await server.wait_ready(retry_interval=READY_POLL_SECONDS)
    if not isinstance(backends.records, EncryptedStorage):
        log.warning("insecure_no_encryption", detail=INSECURE_NO_ENCRYPTION)


def authenticator(config: ServerConfig) -> Authenticator:
    if config.insecure_no_auth:
        log.warning(
            "insecure_no_auth",
            detail="no authentication: every caller may do everything, erase and export included",
        )
        return Authenticator.insecure()
    assert config.policy is not None  # ServerConfig guarantees one or the other
    try:
        return Authenticator.from_file(Path(config.policy))
    except PolicyError as exc:
        raise OptionError("--policy", str(exc)) from exc


def reload_policy(auth: Authenticator) -> None:
    if auth.path is None:
        log.info("policy_reload_skipped", detail="no policy file: --insecure-no-auth")
        return
    try:
        policy = auth.reload()
    except PolicyError as exc:
        log.error("policy_reload_failed", error=str(exc), detail="the previous policy stays")
    else:
        log.info("policy_reloaded", principals=len(policy.grants))


def reload_retention(config: ServerConfig, retention: Retention | None) -> None:
    """Re-read the ``--retention`` file into the policy the backends hold. A file that no
    longer reads leaves the previous policy, said in the log. A server started without
    the flag has nothing to reload (it would have to reach into every backend)."""
    if retention is None:
        return
    try:
        fresh = retention_policy(config)
    except OptionError as exc:
        log.error("retention_reload_failed", error=str(exc), detail="the previous policy stays")
        return
    assert fresh is not None  # the file is configured, since a policy was read at start
    retention.adopt(fresh)
    log.info("retention_reloaded", fields=len(fresh.fields))


def reload(auth: Authenticator, config: ServerConfig, retention: Retention | None) -> None:
    """SIGHUP: the policy file, then the retention file, each on its own."""
    reload_policy(auth)
    reload_retention(config, retention)


async def serve(
    config: ServerConfig,
    *,
    stop: asyncio.Event | None = None,
    listening: asyncio.Future[int] | None = None,
    reuse_port: bool = False,
    worker: bool = False,
) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives, then drain.

    ``listening`` learns the port once the server listens (tests start on port 0);
    ``reuse_port`` lets workers share it; a ``worker``'s metrics are served by its
    supervisor.
    """
    stop = stop or asyncio.Event()
    auth = authenticator(config)
    retention = retention_policy(config)
    signer = receipt_signer(config)
    salts = await pii_salts(config)
    ssl_context = (
        server_context(config.tls_cert, config.tls_key, config.tls_client_ca)
        if config.tls_cert and config.tls_key
        else None
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload, auth, config, retention)
    try:
        async with (
            metrics.exposed(config.host, config.metrics_port, serve=not worker) as measured,
            open_backends(
                config, observer=measured.storage if measured else None, retention=retention
            ) as backends,
            PiinguinServer(
                backends.records,
                auth=auth,
                audit=backends.audit,
                max_bulk_items=config.max_bulk_items,
                max_message_bytes=config.max_message_bytes,
                legacy_api=config.legacy_api,
                salts=salts,
                host=config.host,
                port=config.port,
                ssl_context=ssl_context,
                reuse_port=reuse_port,
                grace_period=config.grace_period,
                wire=config.wire(),
                metrics=measured,
                unauthenticated_audit_budget=config.unauthenticated_audit_budget,
                receipt_signer=signer,
            ) as server,
        ):
            log.info(
                "listening",
                host=config.host,
                port=server.port,
                storage=config.storage,
                tls=ssl_context is not None,
                mutual_tls=bool(config.tls_client_ca),
            )
            if listening is not None:
                listening.set_result(server.port)
            ready = asyncio.create_task(become_ready(server, backends))
            await stop.wait()
            ready.cancel()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def _install_uvloop() -> str:
    try:
        import uvloop  # noqa: PLC0415  (optional: absent on some platforms)
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


def _tune_gc() -> None:
    """Fewer collections under load: a bulk call allocates thousands of short-lived
    objects, and at CPython's default threshold (700) the collector runs many times per
    call, walking everything imported at start too. Startup objects are frozen out of the
    collector's sight; the young-generation threshold goes up tenfold (measured: bulk
    create +8%, bulk read +17% records/s)."""
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


def _serve_one(config: ServerConfig, *, worker: bool = False) -> None:
    _tune_gc()
    loop_kind = _install_uvloop()
    log.info("starting", event_loop=loop_kind, legacy_api=config.legacy_api)
    try:
        asyncio.run(serve(config, reuse_port=worker, worker=worker))
    except OptionError as exc:
        sys.exit(f"piinguin-server: error: {exc}")
    except OSError as exc:
        sys.exit(f"piinguin-server: error: cannot serve: {exc.strerror or exc}")


def worker_main(config: ServerConfig, index: int) -> None:
    """One of ``--workers N``: a whole server on the shared port (runs in a child process)."""
    configure_logging(config.log_level, config.log_format)
    structlog.contextvars.bind_contextvars(worker=index)
    _serve_one(config, worker=True)


def run(argv: Sequence[str] | None = None) -> None:
    try:
        config = ServerConfig.from_args(sys.argv[1:] if argv is None else argv, os.environ)
    except OptionError as exc:
        sys.exit(f"piinguin-server: error: {exc}")
    configure_logging(config.log_level, config.log_format)
    if config.workers == 1:
        _serve_one(config)
        return
    if config.storage == "memory":
        log.warning(
            "memory_storage_per_worker",
            detail="each worker keeps its own in-memory records: benchmarks and development only",
        )
    try:
        with (
            metrics.shared_by_workers(config.host, config.metrics_port)
            if config.metrics_port is not None
            else contextlib.nullcontext()
        ):
            code = supervise(config, worker_main)
    except OSError as exc:
        sys.exit(f"piinguin-server: error: cannot serve: {exc.strerror or exc}")
    sys.exit(code)


if __name__ == "__main__":
    run()
