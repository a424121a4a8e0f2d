"""Each service declares the operation of each of its methods, for calls refused before a
handler runs, and the declaration agrees with what the handlers name to the gatekeeper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from grpclib.client import Channel
from grpclib.const import Handler
from grpclib.exceptions import GRPCError

from piinguin.access.auditing import Auditor
from piinguin.access.auth import Authenticator
from piinguin.access.gatekeeper import Gatekeeper
from piinguin.access.policy import Policy, token_digest
from piinguin.server import PiinguinServer
from piinguin.services.legacy import LegacyPiinguinService
from piinguin.services.vault import PiinguinService
from piinguin.v1 import LawfulBasis, ReadPiiRecordRequest, ReadPiiRecordsRequest, SubjectRequest
from storage import MemoryStorage
from storage.audit import AuditQuery
from storage.memory import MemoryAuditStore

Service = type[PiinguinService | LegacyPiinguinService]
SERVICES: list[Service] = [PiinguinService, LegacyPiinguinService]
TOKEN = "nobody-token-0000"


def handlers(service: Service) -> Mapping[str, Handler]:
    gate = Gatekeeper(Auditor(MemoryAuditStore()))
    return service(MemoryStorage(), gate, max_bulk_items=10).__mapping__()


@pytest.mark.parametrize("service", SERVICES)
def test_each_method_of_a_service_has_its_operation_declared(service: Service) -> None:
    assert set(service.operations) == set(handlers(service))


def request(handler: Handler) -> Any:
    message = handler.request_type()
    if isinstance(message, ReadPiiRecordRequest | ReadPiiRecordsRequest | SubjectRequest):
        # A justified read (or data-subject act): otherwise it is invalid before the
        # gatekeeper is asked.
        message.lawful_basis, message.purpose = LawfulBasis.CONSENT, "p"
    return message


async def call(port: int, name: str, handler: Handler, metadata: dict[str, str]) -> None:
    channel = Channel("127.0.0.1", port)
    try:
        async with channel.request(
            name, handler.cardinality, handler.request_type, handler.reply_type, metadata=metadata
        ) as stream:
            await stream.send_message(request(handler), end=True)
            await stream.recv_initial_metadata()
            while await stream.recv_message() is not None:
                pass
    except GRPCError:
        pass  # refused: the audit event is what is checked
    finally:
        channel.close()


@pytest.mark.socket
@pytest.mark.parametrize("credentials", [{}, {"authorization": f"Bearer {TOKEN}"}])
async def test_a_refused_call_is_audited_as_its_declared_operation(
    start_server: Callable[..., Any], credentials: dict[str, str]
) -> None:
    """Without credentials the tracker refuses (the declaration speaks); with a grant of
    nothing the handler's gatekeeper does (the handler speaks): the two must agree."""
    policy = Policy.from_document(
        {"principals": {"nobody": {"token_sha256": [token_digest(TOKEN)], "operations": []}}}
    )
    audit = MemoryAuditStore()
    declared = {
        name: (service.operations[name], handler)
        for service in SERVICES
        for name, handler in handlers(service).items()
    }
    async with start_server(auth=Authenticator(policy), audit=audit, legacy_api=True) as server:
        assert isinstance(server, PiinguinServer)
        assert server.port is not None
        for name, (_, handler) in declared.items():
            await call(server.port, name, handler, credentials)

    events = (await audit.query(AuditQuery(since=datetime(2000, 1, 1, tzinfo=UTC)))).events
    assert {event.method: event.operation for event in events} == {
        name: operation for name, (operation, _) in declared.items()
    }
    assert len(events) == len(declared)
