"""Every operation, allowed and denied, authenticated and not, over TLS on a real socket."""

from __future__ import annotations

import pytest
from grpclib.const import Status

from piinguin.client import (
    InvalidArgument,
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiiRecord,
    RecordNotFound,
    Unauthenticated,
    Unavailable,
)
from storage import Record

from .conftest import Vault

pytestmark = pytest.mark.socket

KEY = "27abac60dff12792c6088b8d00ce7f25c86b396b8c3740480cd18e21068ecff4"
ORIGINAL = "its_you_again!"


async def operation(client: PiinguinClient, name: str) -> object:
    """What the operation answers: None for a write or a delete."""
    if name == "write":
        await client.create_record(PiiRecord(modified_value=KEY, original_value=ORIGINAL))
        return None
    if name == "read":
        return await client.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-42")
    if name == "delete":
        await client.delete_record(KEY)
        return None
    return await client.list_audit_events(modified_value=KEY)


ALLOWED = {"write": "relay", "read": "support", "delete": "eraser", "audit": "auditor"}


@pytest.mark.parametrize("op", sorted(ALLOWED))
async def test_the_principal_granted_an_operation_may_do_it(vault: Vault, op: str) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])

    async with vault.as_(ALLOWED[op]) as client:
        result = await operation(client, op)

    if op == "read":
        assert isinstance(result, PiiRecord)
        assert result.original_value == ORIGINAL


DENIED = [
    (op, who) for op in sorted(ALLOWED) for who in sorted(ALLOWED.values()) if ALLOWED[op] != who
]


@pytest.mark.parametrize(("op", "principal"), DENIED)
async def test_every_other_principal_is_denied_and_the_denial_is_audited(
    vault: Vault, op: str, principal: str
) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])

    async with vault.as_(principal) as client:
        with pytest.raises(PermissionDenied) as denied:
            await operation(client, op)

    assert ORIGINAL not in str(denied.value)
    assert principal in denied.value.message
    [event] = [e for e in vault.audit.appended if e.principal == principal]
    assert event.code == Status.PERMISSION_DENIED.value
    assert event.operation == op
    assert (await vault.storage.get_many([KEY]))[0] is not None or op == "delete"


@pytest.mark.parametrize("op", sorted(ALLOWED))
@pytest.mark.parametrize(
    "credentials", [{}, {"token": "not-a-known-token"}], ids=["no-credentials", "unknown-token"]
)
async def test_unauthenticated_calls_are_refused_and_audited(
    vault: Vault, op: str, credentials: dict[str, str]
) -> None:
    async with vault.client(**credentials) as client:  # type: ignore[arg-type]
        with pytest.raises(Unauthenticated):
            await operation(client, op)

    [event] = vault.audit.appended
    assert (event.principal, event.code, event.operation) == (
        "",
        Status.UNAUTHENTICATED.value,
        op,
    )
    assert event.keys == ()


async def test_denial_gives_no_hint_whether_the_key_exists(vault: Vault) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])
    async with vault.as_("relay") as client:
        with pytest.raises(PermissionDenied) as present:
            await client.read_record(KEY, basis=LawfulBasis.CONSENT, purpose="ticket-1")
        with pytest.raises(PermissionDenied) as absent:
            await client.read_record("0" * 64, basis=LawfulBasis.CONSENT, purpose="ticket-1")

    assert present.value.message == absent.value.message


@pytest.mark.parametrize(
    ("basis", "purpose", "allowed"),
    [
        (LawfulBasis.CONSENT, "ticket-42", True),
        (LawfulBasis.CONTRACT, "ticket-7", True),
        (LawfulBasis.LEGAL_OBLIGATION, "ticket-42", False),  # basis not granted
        (LawfulBasis.CONSENT, "curiosity", False),  # purpose does not match the pattern
        (LawfulBasis.CONSENT, "ticket-42 and more", False),  # pattern is anchored
        (LawfulBasis.CONSENT, "ticket-42\n", False),  # the whole purpose must match
    ],
)
async def test_reads_are_limited_to_granted_bases_and_purposes(
    vault: Vault, basis: LawfulBasis, purpose: str, allowed: bool
) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])
    async with vault.as_("support") as client:
        if allowed:
            record = await client.read_record(KEY, basis=basis, purpose=purpose)
            assert record.original_value == ORIGINAL
        else:
            with pytest.raises(PermissionDenied):
                await client.read_record(KEY, basis=basis, purpose=purpose)

    [event] = vault.audit.appended
    assert event.lawful_basis == basis
    assert event.purpose == purpose
    assert event.code == (Status.OK if allowed else Status.PERMISSION_DENIED).value


async def test_the_relay_writes_but_cannot_read_what_it_wrote(vault: Vault) -> None:
    async with vault.as_("relay") as client:
        results = await client.create_records(
            [PiiRecord(modified_value=f"k{i}", original_value=f"v{i}") for i in range(3)]
        )
        assert all(r.ok for r in results)
        with pytest.raises(PermissionDenied):
            await client.read_records(["k0"], basis=LawfulBasis.CONSENT, purpose="ticket-1")
        with pytest.raises(PermissionDenied):
            await client.delete_records(["k0"])


async def test_invalid_requests_stay_invalid_for_permitted_callers(vault: Vault) -> None:
    async with vault.as_("support") as client:
        with pytest.raises(InvalidArgument):
            await client.read_record(KEY, basis=LawfulBasis.UNSPECIFIED, purpose="ticket-1")


async def test_mutual_tls_certificate_names_the_principal(vault: Vault) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])

    async with vault.client(cert=vault.pki.dpo) as client:
        record = await client.read_record(
            KEY, basis=LawfulBasis.LEGAL_OBLIGATION, purpose="court order 7"
        )
        await client.delete_record(KEY)
        with pytest.raises(RecordNotFound):
            await client.read_record(KEY, basis=LawfulBasis.LEGAL_OBLIGATION, purpose="again")
        with pytest.raises(PermissionDenied):
            await client.create_record(PiiRecord(modified_value=KEY, original_value="x"))

    assert record.original_value == ORIGINAL
    principals = {e.principal for e in vault.audit.appended}
    assert principals == {"dpo"}


async def test_certificate_of_an_unknown_principal_is_unauthenticated(vault: Vault) -> None:
    async with vault.client(cert=vault.pki.stranger) as client:
        with pytest.raises(Unauthenticated):
            await client.delete_record(KEY)


async def test_certificate_from_another_authority_cannot_connect(vault: Vault) -> None:
    async with vault.client(cert=vault.pki.rogue) as client:
        with pytest.raises((Unavailable, Unauthenticated)):
            await client.delete_record(KEY)
    assert all(e.principal != "dpo" for e in vault.audit.appended)


async def test_token_wins_over_a_certificate(vault: Vault) -> None:
    await vault.storage.put_many([Record(KEY, ORIGINAL)])
    async with vault.client(token="support-token-77c1", cert=vault.pki.dpo) as client:
        with pytest.raises(PermissionDenied):
            await client.delete_record(KEY)
