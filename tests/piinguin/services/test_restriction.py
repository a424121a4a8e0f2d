"""Restriction of processing (GDPR Art. 18) over real sockets, with a policy of tokens, on
memory and DynamoDB (moto), both encrypting at rest: who may restrict, what reads of a
restricted person are answered, what the audit log keeps, and that a restriction reaches
records written after it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import Policy, token_digest
from piinguin.client import (
    InvalidArgument,
    LawfulBasis,
    PermissionDenied,
    PiinguinClient,
    PiiRecord,
    Restricted,
    RestrictionGround,
    Unavailable,
    Value,
)
from piinguin.services.restriction import RESTRICTED_MESSAGE
from piinguin.v1 import AuditEvent
from storage import AuditStore, MemoryStorage, Record, SubjectStorage
from storage.audit import AuditQuery
from storage.crypto import Keyring, LocalKeys
from storage.dynamodb import DynamoDBAuditStore, create_audit_table
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryAuditStore
from tests.conftest import running_server
from tests.doubles import FailingMarks, WriteLandsMidFind
from tests.dynamodb_fixtures import dynamodb_client, fresh_key_table, fresh_table, fresh_table_name
from tests.storage.dynamodb.faults import storage_on

pytestmark = pytest.mark.socket

EMAIL = "jane.restricted@example.com"
OTHER = "someone.else@example.com"
PURPOSE = "ticket-7"
TOKENS = {
    name: f"{name}-token-{n:04}"
    for n, name in enumerate(["writer", "reader", "privileged", "dpo", "nobody"])
}
READ = {"operations": ["read"], "lawful_bases": ["consent"]}
POLICY: dict[str, dict[str, Any]] = {
    "writer": {"operations": ["write"]},
    "reader": READ,
    "privileged": READ | {"restricted_reads": True},
    "dpo": {
        "operations": ["restrict", "unrestrict", "audit"],
        "lawful_bases": ["legal_obligation"],
    },
    # May read and write, never restrict: the subject operations are granted by name only.
    "nobody": {
        "operations": ["read", "write", "delete", "audit", "find", "export", "erase"],
        "lawful_bases": ["consent", "legal_obligation"],
        "restricted_reads": True,
    },
}


def policy() -> Policy:
    return Policy.from_document(
        {
            "principals": {
                name: grant | {"token_sha256": [token_digest(TOKENS[name])]}
                for name, grant in POLICY.items()
            }
        }
    )


#: The raw items of the audit table whose pk is the argument (DynamoDB alone).
RawItems = Callable[[str], Awaitable[list[dict[str, Any]]]]


class Backend(NamedTuple):
    storage: SubjectStorage
    audit: AuditStore
    raw_audit: RawItems | None = None


@dataclass
class Served:
    target: str
    backend: Backend

    @contextlib.asynccontextmanager
    async def as_(self, principal: str) -> AsyncIterator[PiinguinClient]:
        async with PiinguinClient(self.target, token=TOKENS[principal], timeout=10) as client:
            yield client

    async def write(self, *records: tuple[str, str]) -> None:
        async with self.as_("writer") as client:
            results = await client.create_records(
                [
                    PiiRecord(modified_value=k, original_value=v, field_name="user_id")
                    for k, v in records
                ]
            )
        assert all(result.ok for result in results)

    async def restrict(self, *values: str, keys: tuple[str, ...] = ()) -> list[str]:
        async with self.as_("dpo") as client:
            done = await client.restrict_subject(
                values=values,
                modified_values=keys,
                basis=LawfulBasis.LEGAL_OBLIGATION,
                purpose=PURPOSE,
            )
        assert done.at is not None
        assert abs(done.at - datetime.now(UTC)) < timedelta(minutes=1)
        return done.modified_values

    async def events(self, key: str) -> list[AuditEvent]:
        async with self.as_("dpo") as client:
            return [event async for event in client.audit_events(modified_value=key)]


@contextlib.asynccontextmanager
async def memory_vault(_: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    keyring = Keyring(LocalKeys.ephemeral())
    yield Backend(EncryptedStorage(MemoryStorage(), keyring, vault="memory"), MemoryAuditStore())


@contextlib.asynccontextmanager
async def dynamodb_vault(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    endpoint = request.getfixturevalue("moto_endpoint")
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(dynamodb_client(endpoint))
        table = await stack.enter_async_context(fresh_table(client))
        key_table = await stack.enter_async_context(fresh_key_table(client))
        audit_table = fresh_table_name()
        await create_audit_table(client, audit_table, poll_seconds=0)
        stack.push_async_callback(client.delete_table, TableName=audit_table)
        sealed = storage_on(client, table, key_table=key_table)
        keyring = Keyring(LocalKeys.ephemeral())

        async def raw_audit(pk: str) -> list[dict[str, Any]]:
            # As another tool reading the table sees it.
            answer = await client.query(
                TableName=audit_table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
            return list(answer["Items"])

        yield Backend(
            EncryptedStorage(sealed, keyring, vault=table),
            DynamoDBAuditStore(client, audit_table),
            raw_audit,
        )


BACKENDS = {"memory-encrypted": memory_vault, "dynamodb-encrypted": dynamodb_vault}


@pytest.fixture(params=sorted(BACKENDS))
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    async with (
        BACKENDS[request.param](request) as backend,
        running_server(
            backend.storage, auth=Authenticator(policy()), audit=backend.audit, grace_period=0
        ) as server,
    ):
        yield Served(f"127.0.0.1:{server.port}", backend)


async def read(served: Served, principal: str, key: str, ground: int = 0) -> PiiRecord:
    async with served.as_(principal) as client:
        return await client.read_record(
            key,
            basis=LawfulBasis.CONSENT,
            purpose=PURPOSE,
            restriction_ground=RestrictionGround(ground),
        )


async def test_ordinary_reads_of_a_restricted_person_are_refused_and_others_answered(
    served: Served, log_output: Callable[[], str]
) -> None:
    await served.write(("k1", EMAIL), ("k2", EMAIL.upper()), ("k3", OTHER))

    assert await served.restrict(EMAIL) == ["k1", "k2"]

    with pytest.raises(Restricted) as refused:
        await read(served, "reader", "k1")
    assert refused.value.message == RESTRICTED_MESSAGE
    async with served.as_("reader") as client:
        results = await client.read_records(
            ["k3", "k1", "missing", "k2"], basis=LawfulBasis.CONSENT, purpose=PURPOSE
        )
    assert [r.status.value for r in results] == [0, 9, 5, 9]
    assert [r.restricted for r in results] == [False, True, False, True]
    assert results[0].record is not None
    assert results[0].record.original_value == OTHER
    assert results[1].record is None
    assert results[1].message == RESTRICTED_MESSAGE
    # Privileged or not, a read without a ground is an ordinary read.
    with pytest.raises(Restricted):
        await read(served, "privileged", "k2")

    [single, bulk] = [e for e in await served.events("k1") if e.operation == "read"]
    assert (single.operation, single.code, [k.code for k in single.keys]) == ("read", 9, [9])
    assert (bulk.operation, bulk.code, [k.code for k in bulk.keys]) == ("read", 0, [9])
    assert single.restriction_ground == RestrictionGround.UNSPECIFIED
    assert EMAIL not in log_output()
    assert EMAIL.upper() not in log_output()


async def test_a_ground_from_a_grant_without_restricted_reads_is_denied_before_any_read(
    served: Served,
) -> None:
    await served.write(("k1", EMAIL), ("k3", OTHER))
    await served.restrict(EMAIL)

    with pytest.raises(PermissionDenied, match="may not read restricted records"):
        await read(served, "reader", "k1", RestrictionGround.LEGAL_CLAIMS)
    # Refused for the ground alone, whether or not the record is restricted.
    with pytest.raises(PermissionDenied):
        await read(served, "reader", "k3", RestrictionGround.LEGAL_CLAIMS)

    [*_, denied] = await served.events("k1")
    assert (denied.principal, denied.operation, denied.code) == ("reader", "read", 7)
    assert denied.restriction_ground == RestrictionGround.LEGAL_CLAIMS


async def test_a_ground_with_restricted_reads_is_answered_and_audited_with_the_ground(
    served: Served, log_output: Callable[[], str]
) -> None:
    await served.write(("k1", EMAIL), ("k3", OTHER))
    await served.restrict(EMAIL)

    record = await read(served, "privileged", "k1", RestrictionGround.PROTECTION_OF_RIGHTS)
    async with served.as_("privileged") as client:
        results = await client.read_records(
            ["k1", "k3"],
            basis=LawfulBasis.CONSENT,
            purpose=PURPOSE,
            restriction_ground=RestrictionGround.PUBLIC_INTEREST,
        )

    assert (record.original_value, record.restricted) == (EMAIL, True)
    assert [r.record.original_value if r.record else None for r in results] == [EMAIL, OTHER]
    assert [r.record.restricted if r.record else None for r in results] == [True, False]
    [*_, single, bulk] = await served.events("k1")
    assert (single.code, single.keys[0].code, single.restriction_ground) == (
        0,
        0,
        RestrictionGround.PROTECTION_OF_RIGHTS,
    )
    assert bulk.restriction_ground == RestrictionGround.PUBLIC_INTEREST
    assert EMAIL not in log_output()


async def test_an_unknown_ground_is_an_invalid_argument(served: Served) -> None:
    await served.write(("k1", EMAIL))

    with pytest.raises(InvalidArgument, match="restriction_ground 99 is not a known"):
        await read(served, "privileged", "k1", 99)


async def test_records_written_after_the_restriction_are_restricted(served: Served) -> None:
    await served.write(("k1", EMAIL))
    await served.restrict(EMAIL, keys=("k-later",))

    # Re-ingested under its pseudonym; a new pseudonym of the same value (its digest
    # is marked); a pseudonym named before it was stored; and another person's.
    await served.write(("k1", EMAIL), ("k-new", EMAIL), ("k-later", OTHER), ("k3", OTHER))

    for key in ("k1", "k-new", "k-later"):
        with pytest.raises(Restricted):
            await read(served, "reader", key)
    assert (await read(served, "reader", "k3")).restricted is False


async def test_unrestrict_lifts_it_for_stored_and_later_records_and_is_audited(
    served: Served,
) -> None:
    await served.write(("k1", EMAIL), ("k3", OTHER))
    await served.restrict(EMAIL)
    # Twice: each act is idempotent.
    await served.restrict(EMAIL)

    for _ in range(2):
        async with served.as_("dpo") as client:
            done = await client.unrestrict_subject(
                values=[Value(EMAIL, "user_id")],
                basis=LawfulBasis.LEGAL_OBLIGATION,
                purpose=PURPOSE,
            )
        assert done.modified_values == ["k1"]

    assert (await read(served, "reader", "k1")).original_value == EMAIL
    await served.write(("k-new", EMAIL))
    assert (await read(served, "reader", "k-new")).restricted is False
    acts = [e for e in await served.events("k1") if e.operation.endswith("restrict")]
    assert [(e.operation, e.code, e.principal, e.purpose) for e in acts] == [
        ("restrict", 0, "dpo", PURPOSE),
        ("restrict", 0, "dpo", PURPOSE),
        ("unrestrict", 0, "dpo", PURPOSE),
        ("unrestrict", 0, "dpo", PURPOSE),
    ]
    assert all([(k.modified_value, k.code) for k in e.keys] == [("k1", 0)] for e in acts)
    assert all(e.lawful_basis == LawfulBasis.LEGAL_OBLIGATION for e in acts)


async def test_a_restriction_placed_by_value_is_lifted_by_pseudonym_for_good(
    served: Served,
) -> None:
    await served.write(("k1", EMAIL))
    await served.restrict(EMAIL)

    async with served.as_("dpo") as client:
        await client.unrestrict_subject(
            modified_values=["k1"], basis=LawfulBasis.LEGAL_OBLIGATION, purpose=PURPOSE
        )
    # The pair again, and the value under a new pseudonym: the value's mark went with
    # the record's, so neither lands restricted.
    await served.write(("k1", EMAIL), ("k-new", EMAIL))

    for key in ("k1", "k-new"):
        assert (await read(served, "reader", key)).restricted is False


async def test_restrict_and_unrestrict_are_denied_by_default_and_audited(served: Served) -> None:
    await served.write(("k1", EMAIL))

    async with served.as_("nobody") as client:
        for act in (client.restrict_subject, client.unrestrict_subject):
            with pytest.raises(PermissionDenied):
                await act(
                    values=[EMAIL], modified_values=["k1"], basis=LawfulBasis.CONSENT, purpose="p"
                )

    assert (await read(served, "reader", "k1")).restricted is False
    denied = [e for e in await served.events("k1") if e.code == 7]
    assert [(e.principal, e.operation) for e in denied] == [
        ("nobody", "restrict"),
        ("nobody", "unrestrict"),
    ]


async def test_the_audit_item_holds_the_ground_only_when_one_was_stated(
    served: Served,
) -> None:
    await served.write(("k1", EMAIL))
    await read(served, "privileged", "k1")
    await read(served, "privileged", "k1", RestrictionGround.SUBJECT_CONSENT)

    stored = (await served.backend.audit.query(AuditQuery(modified_value="k1"))).events
    assert [e.restriction_ground for e in stored] == [0, RestrictionGround.SUBJECT_CONSENT]
    if served.backend.raw_audit is not None:
        items = await served.backend.raw_audit("KEY#k1")
        assert [i.get("restrictionGround") for i in items] == [None, {"N": "1"}]


async def test_a_storage_failure_is_unavailable_and_a_retry_completes(
    log_output: Callable[[], str],
) -> None:
    storage = FailingMarks()
    audit = MemoryAuditStore()
    async with running_server(
        storage, auth=Authenticator(policy()), audit=audit, grace_period=0
    ) as server:
        served = Served(f"127.0.0.1:{server.port}", Backend(storage, audit))
        await served.write(("k1", EMAIL))
        storage.down = True
        with pytest.raises(Unavailable):
            await served.restrict(keys=("k1",))
        storage.down = False
        assert await served.restrict(keys=("k1",)) == ["k1"]

        with pytest.raises(Restricted):
            await read(served, "reader", "k1")
        acts = [e for e in await served.events("k1") if e.operation == "restrict"]
    assert [(e.code, [k.code for k in e.keys]) for e in acts] == [(14, [14]), (0, [0])]
    assert EMAIL not in log_output()


async def test_a_record_written_while_the_person_is_found_is_restricted_and_unrestricted_too() -> (
    None
):
    storage = WriteLandsMidFind(Record("k-late", EMAIL.upper(), "user_id"))
    audit = MemoryAuditStore()
    async with running_server(
        storage, auth=Authenticator(policy()), audit=audit, grace_period=0
    ) as server:
        served = Served(f"127.0.0.1:{server.port}", Backend(storage, audit))
        await served.write(("k1", EMAIL))
        assert await served.restrict(EMAIL) == ["k-late", "k1"]
        with pytest.raises(Restricted):
            await read(served, "reader", "k-late")
        storage.landing.append(Record("k-later", EMAIL, "user_id", restricted=True))
        async with served.as_("dpo") as client:
            lifted = await client.unrestrict_subject(
                values=[EMAIL], basis=LawfulBasis.LEGAL_OBLIGATION, purpose=PURPOSE
            )
        assert lifted.modified_values == ["k-late", "k-later", "k1"]
        assert [r.original_value for r in [await read(served, "reader", "k-later")]] == [EMAIL]
