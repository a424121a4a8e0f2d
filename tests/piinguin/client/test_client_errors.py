"""How the client fails: status mapping, connection failures, deadlines, bad arguments."""

from __future__ import annotations

import asyncio
import ssl

import h2.exceptions
import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError

from piinguin.client import (
    DeadlineExceeded,
    InvalidArgument,
    ItemResult,
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiinguinError,
    RecordNotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    parse_target,
)
from piinguin.client.errors import translated_errors
from tests.doubles import HANG, NO_RECORD
from tests.piinguin.client.conftest import Scripted, Vault

BASIS, PURPOSE = LawfulBasis.CONSENT, "support ticket 42"

STATUS_ERRORS = [
    (Status.INVALID_ARGUMENT, InvalidArgument),
    (Status.NOT_FOUND, RecordNotFound),
    (Status.UNAVAILABLE, Unavailable),
    (Status.UNAUTHENTICATED, Unauthenticated),
    (Status.PERMISSION_DENIED, PermissionDenied),
    (Status.RESOURCE_EXHAUSTED, ResourceExhausted),
    (Status.DEADLINE_EXCEEDED, DeadlineExceeded),
    (Status.INTERNAL, PiinguinError),
    (Status.UNKNOWN, PiinguinError),
    (Status.ALREADY_EXISTS, PiinguinError),
]


@pytest.mark.parametrize(("status", "error"), STATUS_ERRORS)
async def test_each_status_from_the_server_raises_its_exception(
    scripted: Scripted, status: Status, error: type[PiinguinError]
) -> None:
    async with PiinguinClient(scripted.target) as client:
        with pytest.raises(PiinguinError) as caught:
            await client.read_record("k1", basis=LawfulBasis.CONSENT, purpose=status.name)

    assert type(caught.value) is error
    assert caught.value.status is status
    assert caught.value.message == f"scripted {status.name}"
    assert str(caught.value) == f"scripted {status.name}"
    assert isinstance(caught.value.__cause__, GRPCError)


# -- connection failures ------------------------------------------------------------------


async def test_a_closed_port_raises_unavailable(closed_target: str) -> None:
    async with PiinguinClient(closed_target) as client:
        with pytest.raises(Unavailable, match=f"cannot reach {closed_target}") as caught:
            await client.delete_record("k1")

    assert caught.value.status is Status.UNAVAILABLE
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


async def test_a_server_that_stopped_between_calls_raises_unavailable(vault: Vault) -> None:
    async with PiinguinClient(vault.target) as client:
        await client.delete_record("k1")
        await vault.server.drain(0)

        # drain closed the connection: the next call cannot be sent at all
        with pytest.raises(Unavailable, match=f"(connection to|cannot reach) {vault.target}"):
            await client.delete_record("k1")


async def test_a_connection_closed_by_the_peer_raises_unavailable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    target = f"127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        async with PiinguinClient(target) as client:
            with pytest.raises(Unavailable, match="Connection lost") as caught:
                await client.delete_record("k1")
    finally:
        listener.close()
        await listener.wait_closed()

    assert isinstance(caught.value.__cause__, StreamTerminatedError)


async def test_tls_to_a_plaintext_server_raises_unavailable(vault: Vault) -> None:
    async with PiinguinClient(vault.target, ssl=True) as client:
        with pytest.raises(Unavailable):
            await client.delete_record("k1")

    assert len(vault.storage) == 0


async def test_a_server_that_never_answers_raises_deadline_exceeded(scripted: Scripted) -> None:
    async with PiinguinClient(scripted.target, timeout=0.05) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            await client.read_record("k1", basis=LawfulBasis.CONSENT, purpose=HANG)

    assert caught.value.status is Status.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    ("raised", "error", "message"),
    [
        (TimeoutError(), DeadlineExceeded, "the deadline passed before the server answered"),
        (TimeoutError(110, "timed out"), Unavailable, "cannot reach h:1: timed out"),
        (ConnectionResetError(104, "reset"), Unavailable, "cannot reach h:1: Connection reset"),
        (OSError("Multiple exceptions"), Unavailable, "cannot reach h:1: Multiple exceptions"),
        (ssl.SSLError(1, "WRONG_VERSION_NUMBER"), Unavailable, "TLS with h:1 failed"),
        (StreamTerminatedError("Connection lost"), Unavailable, "the connection to h:1 failed"),
        (h2.exceptions.ProtocolError("bad frame"), Unavailable, "the connection to h:1 failed"),
        (GRPCError(Status.INTERNAL), PiinguinError, "the server answered INTERNAL"),
    ],
)
def test_connection_level_failures_are_translated(
    raised: Exception, error: type[PiinguinError], message: str
) -> None:
    with pytest.raises(PiinguinError) as caught, translated_errors("h:1"):
        raise raised

    assert type(caught.value) is error
    assert caught.value.message.startswith(message)
    assert caught.value.__cause__ is raised


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (ConnectionRefusedError(), "cannot reach h:1: Connection refused"),
        (ConnectionResetError(), "cannot reach h:1: Connection reset by peer"),
        (BrokenPipeError(), "cannot reach h:1: Broken pipe"),
        (OSError(), "cannot reach h:1: the connection failed"),
        (StreamTerminatedError(), "the connection to h:1 failed"),
    ],
)
def test_a_failure_without_words_of_its_own_is_still_a_sentence(
    raised: Exception, message: str
) -> None:
    with pytest.raises(Unavailable) as caught, translated_errors("h:1"):
        raise raised

    assert caught.value.message == message
    assert type(raised).__name__ not in caught.value.message


@pytest.mark.parametrize("raised", [asyncio.CancelledError(), KeyError("bug")])
def test_other_exceptions_pass_through(raised: BaseException) -> None:
    with pytest.raises(type(raised)) as caught, translated_errors("h:1"):
        raise raised

    assert caught.value is raised


# -- a server that breaks the contract ----------------------------------------------------


async def test_a_read_answered_without_a_record_raises(scripted: Scripted) -> None:
    async with PiinguinClient(scripted.target) as client:
        with pytest.raises(PiinguinError, match="without a record") as caught:
            await client.read_record("k1", basis=LawfulBasis.CONSENT, purpose=NO_RECORD)

    assert caught.value.status is Status.UNKNOWN


async def test_bulk_items_with_an_odd_status_are_unknown(scripted: Scripted) -> None:
    async with PiinguinClient(scripted.target) as client:
        results = await client.read_records(["k1", "k2"], basis=BASIS, purpose=PURPOSE)

    assert [(r.status, r.message, r.record) for r in results] == [
        (Status.UNKNOWN, "the server answered OK without a record", None),
        (Status.UNKNOWN, "from the future", None),
    ]


async def test_a_bulk_answer_of_the_wrong_length_raises(scripted: Scripted) -> None:
    async with PiinguinClient(scripted.target) as client:
        with pytest.raises(PiinguinError, match="answered 0 results for 2 items") as caught:
            await client.delete_records(["k1", "k2"])

    assert caught.value.status is Status.INTERNAL


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", 50051)),
        ("[::1]:50051", ("::1", 50051)),
        ("vault.internal:1", ("vault.internal", 1)),
        ("localhost:65535", ("localhost", 65535)),
    ],
)
def test_parse_target(target: str, address: tuple[str, int]) -> None:
    assert parse_target(target) == address


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("", "is not host:port"),
        ("127.0.0.1", "is not host:port"),
        (":50051", "is not host:port"),
        ("::1:50051", "put an IPv6 address in brackets"),
        ("[::1]", "put an IPv6 address in brackets"),
        ("[]:50051", "has no valid host"),
        ("my host:50051", "has no valid host"),
        ("host:0", "the port must be a number from 1 to 65535"),
        ("host:65536", "the port must be a number from 1 to 65535"),
        ("host:-1", "the port must be a number from 1 to 65535"),
        ("host:http", "the port must be a number from 1 to 65535"),
        ("host:\uff15", "the port must be a number from 1 to 65535"),
        (
            "http://vault:50051",
            "target 'http://vault:50051' has a scheme: a target is host:port, without http://,"
            " e.g. vault:50051$",
        ),
        ("https://vault:443/", "without https://, e.g. vault:443 and ask for TLS with --tls$"),
        ("grpc://", "without grpc://, e.g. 127.0.0.1:50051$"),
    ],
)
def test_a_bad_target_raises_value_error(target: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PiinguinClient(target)


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_timeout_raises_value_error(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        PiinguinClient("127.0.0.1:50051", timeout=timeout)


def test_a_token_and_an_authorization_header_conflict() -> None:
    with pytest.raises(ValueError, match="not both"):
        PiinguinClient("h:1", token="a", metadata={"authorization": "Bearer b"})


def test_an_empty_token_raises_value_error() -> None:
    with pytest.raises(ValueError, match="the token is empty"):
        PiinguinClient("h:1", token="")


@pytest.mark.parametrize(
    ("metadata", "token"),
    [({"x-pass": "hunter\u00e9"}, None), ({"Bad Key": "hunter2"}, None), (None, "hunter2\n")],
)
def test_bad_metadata_raises_value_error_without_the_value(
    metadata: dict[str, str] | None, token: str | None
) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as caught:
        PiinguinClient("h:1", metadata=metadata, token=token)

    assert "hunter" not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_calls_outside_async_with_raise_runtime_error(vault: Vault) -> None:
    client = PiinguinClient(vault.target)
    with pytest.raises(RuntimeError, match="async with"):
        await client.delete_record("k1")

    async with client:
        with pytest.raises(RuntimeError, match="already open"):
            await client.__aenter__()
        assert await client.delete_records(["k1"]) == [ItemResult(Status.OK, "")]

    with pytest.raises(RuntimeError, match="async with"):
        await client.delete_record("k1")
