"""An export's access history: three reads by a principal are listed as three reads, with
who, when, basis and purpose; a long history is cut, and the document says so."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from piinguin.access.auth import Authenticator
from piinguin.access.policy import token_digest
from piinguin.client import LawfulBasis, PiinguinClient, Value
from piinguin.services.access_history import access_entries, histories, history, recipients
from piinguin.v1 import RestrictionGround
from storage import Record
from storage.audit import AuditEvent, KeyOutcome
from storage.crypto import Keyring, LocalKeys
from storage.encrypted import EncryptedStorage
from storage.memory import MemoryAuditStore, MemoryStorage
from tests.conftest import running_vault

VALUE = "jane.doe+canary@example.org"
TOKENS = {"support": "support-token-41aa", "dpo": "dpo-token-9c0e"}
POLICY = f"""
[principals.support]
token_sha256 = ["{token_digest(TOKENS["support"])}"]
operations = ["read"]
lawful_bases = ["consent", "contract"]

[principals.dpo]
token_sha256 = ["{token_digest(TOKENS["dpo"])}"]
operations = ["export"]
lawful_bases = ["legal_obligation"]
purpose_pattern = 'DSR-[0-9]+'
"""


async def test_the_export_of_a_person_read_three_times_lists_the_three_reads(
    tmp_path: Path, log_output: Callable[[], str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    storage = EncryptedStorage(MemoryStorage(), Keyring(LocalKeys.ephemeral()), vault="memory")
    await storage.put_many([Record("k1", VALUE, "user_id", app_id="shop")])
    purposes = [("ticket 1", LawfulBasis.CONSENT), ("ticket 2", LawfulBasis.CONTRACT)]
    purposes.append(("ticket 3", LawfulBasis.CONSENT))

    async with running_vault(storage, auth=Authenticator.from_file(policy)) as vault:
        async with PiinguinClient(vault.target, token=TOKENS["support"]) as support:
            for purpose, basis in purposes:
                await support.read_record("k1", basis=basis, purpose=purpose)
        async with PiinguinClient(vault.target, token=TOKENS["dpo"]) as dpo:
            document = await dpo.export_subject(
                values=[Value(VALUE, "user_id")],
                basis=LawfulBasis.LEGAL_OBLIGATION,
                purpose="DSR-17",
            )

    [record] = document["records"]
    assert record["original_value"] == VALUE
    reads = [
        (a["principal"], a["operation"], a["lawful_basis"], a["purpose"], a["code"])
        for a in record["access"]
    ]
    assert reads == [
        ("support", "read", "consent", "ticket 1", "OK"),
        ("support", "read", "contract", "ticket 2", "OK"),
        ("support", "read", "consent", "ticket 3", "OK"),
    ]
    times = [datetime.fromisoformat(a["time"]) for a in record["access"]]
    assert times == sorted(times)
    assert all(a["method"] == "/piinguin.v1.Piinguin/ReadPiiRecord" for a in record["access"])
    [recipient] = document["recipients"]
    assert (recipient["principal"], recipient["disclosures"]) == ("support", 3)
    assert document["exported_by"] == "dpo"
    assert VALUE not in log_output()
    assert VALUE not in json.dumps(record["access"])


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(i: int, key: str, operation: str = "read", code: int = 0) -> AuditEvent:
    return AuditEvent(
        f"e{i:05}",
        T0 + timedelta(seconds=i),
        f"p{i % 2}",
        operation,
        "/m",
        0,
        (KeyOutcome(key, code), KeyOutcome("other", 0)),
    )


async def test_a_history_longer_than_the_bound_is_cut_and_says_so() -> None:
    store = MemoryAuditStore()
    for i in range(7):
        await store.append(event(i, "k1"))

    cut = await history(store, "k1", limit=5)
    whole = await history(store, "k1", limit=7)

    assert ([e.event_id for e in cut.events], cut.complete) == (
        ["e00000", "e00001", "e00002", "e00003", "e00004"],
        False,
    )
    assert (len(whole.events), whole.complete) == (7, True)


async def test_one_export_s_histories_share_one_bound() -> None:
    # A request may name a thousand pseudonyms: a thousand full histories would be ten
    # million events in one document, so the bound is the export's, not only each key's.
    store = MemoryAuditStore()
    for i in range(4):
        await store.append(event(i, "k1"))
        await store.append(event(10 + i, "k2"))
        await store.append(event(20 + i, "k3"))

    read = await histories(store, ["k1", "k2", "k3"], budget=6)

    assert [(len(h.events), h.complete) for h in read] == [(4, True), (2, False), (0, False)]


async def test_recipients_count_only_disclosures_of_the_key_that_succeeded() -> None:
    events = [
        event(0, "k1"),
        event(1, "k1", code=5),  # not found: nothing disclosed
        event(2, "k1", operation="find"),  # a find answers no original
        event(3, "k1", operation="export"),
        event(4, "k1"),
    ]

    assert recipients([("k1", events)]) == [
        {
            "principal": "p0",
            "disclosures": 2,
            "first": T0.isoformat(),
            "last": events[4].time.isoformat(),
        },
        {
            "principal": "p1",
            "disclosures": 1,
            "first": events[3].time.isoformat(),
            "last": events[3].time.isoformat(),
        },
    ]
    assert [a["code"] for a in access_entries("k1", events)] == [
        "OK",
        "NOT_FOUND",
        "OK",
        "OK",
        "OK",
    ]


def test_an_access_entry_names_the_restriction_ground_its_read_stated() -> None:
    plain_read = event(1, "k")
    grounded = plain_read._replace(restriction_ground=int(RestrictionGround.LEGAL_CLAIMS))

    [plain, stated] = access_entries("k", [plain_read, grounded])

    assert (plain["restriction_ground"], stated["restriction_ground"]) == (
        "unspecified",
        "legal_claims",
    )
