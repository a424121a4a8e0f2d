"""Encryption at rest's figures: ``piinguin-server`` with encryption on (its default on the
memory backend: an in-process key) against ``--insecure-no-encryption``, unary reads, bulk
creates and bulk reads all in the same interleaved rounds (on and off swapping places every
other round); KMS calls per 1,000 records
written; DynamoDB write units per record (``bench.storage_costs``, in a process of its own
against moto)."""

from __future__ import annotations

import json

from bench import calls
from bench.harness import BULK, UNARY, Bench
from bench.procs import python
from bench.relay_rows import moto
from bench.results import Goal, Row, paired

OFF = "encryption off (--insecure-no-encryption)"
#: "Unary reads cost at most 5% more": time a call on <= 1.05 x off, so calls/s >= 1/1.05.
UNARY_GOAL = Goal(">= 0.95x (<= 5% more time a call)", 1 / 1.05)
BULK_GOAL = Goal(">= 0.8x", 0.8)


def encryption(bench: Bench) -> list[Row]:
    count = bench.sizes.bulk_items
    unary, create, read = calls.unary_read(), calls.bulk_create(count), calls.bulk_read(count)
    with (
        bench.piinguin() as on,
        bench.piinguin("--insecure-no-encryption") as off,
    ):
        servers = (on, off)
        sizes = {port: calls.seed(port, count) for port in servers}
        expected = {(c.method, p): calls.probe(p, c) for c in (create, read) for p in servers}

        def per_s(port: int, call: calls.Call) -> float:
            if call is unary:
                return bench.calls_per_s(port, call, UNARY, sizes[port])
            return bench.calls_per_s(port, call, BULK, expected[call.method, port]) * call.items

        rounds: dict[str, list[tuple[float, float]]] = {"unary": [], "create": [], "read": []}
        for i in range(bench.rounds):
            for name, call in (("unary", unary), ("create", create), ("read", read)):
                # On and off swap places every other round: neither always goes first.
                if i % 2 == 0:
                    on_per_s = per_s(on, call)
                    rounds[name].append((on_per_s, per_s(off, call)))
                else:
                    off_per_s = per_s(off, call)
                    rounds[name].append((per_s(on, call), off_per_s))
    return [
        paired(
            "encryption-unary",
            "unary ReadPiiRecord, encryption on",
            "calls/s",
            OFF,
            UNARY_GOAL,
            rounds["unary"],
        ),
        paired(
            "encryption-bulk-create",
            f"bulk CreatePiiRecords, {count} a call, encryption on",
            "records/s",
            OFF,
            BULK_GOAL,
            rounds["create"],
        ),
        paired(
            "encryption-bulk-read",
            f"bulk ReadPiiRecords, {count} a call, encryption on",
            "records/s",
            OFF,
            BULK_GOAL,
            rounds["read"],
        ),
    ]


def storage_costs(bench: Bench) -> list[Row]:
    """KMS calls per 1,000 records and DynamoDB write units per record, from one run of
    ``bench.storage_costs`` against a moto server."""
    out = bench.workdir / "storage-costs.json"
    records = bench.sizes.dynamodb_pairs * 10  # 10,000: bulk calls of 500, as the relay's
    with moto(bench) as url:
        argv = python(
            "storage_costs",
            "--endpoint",
            url,
            "--records",
            str(records),
            "--unit-records",
            str(bench.sizes.dynamodb_pairs),
        )
        proc = bench.procs.start(
            "storage-costs", [*argv, "--json", str(out)], cores=bench.cores.server
        )
        if proc.wait(timeout=300) != 0:
            raise RuntimeError(f"storage_costs failed: {bench.procs.stderr_tail(proc)}")
    figures = json.loads(out.read_text())
    kms, units = figures["kms"], figures["units"]
    per_thousand = 1000 * kms["write_calls"] / kms["records"]
    return [
        paired(
            "kms-calls",
            "KMS calls per 1,000 records written",
            "calls",
            "one call per record",
            Goal("<= 1", 1.0, at_least=False),
            [(per_thousand, 1000.0)],
            notes=(
                f"{kms['write_calls']} calls ({kms['write_by_operation']}) for "
                f"{kms['records']:,} records in bulk calls of {kms['batch']}; reading them all "
                f"back in a new process: {kms['read_calls']} calls ({kms['read_by_operation']})"
            ),
            extra=kms,
            goal_on_value=True,
        ),
        paired(
            "write-units",
            "DynamoDB write units per record written, encrypted",
            "WCU",
            "in clear (--insecure-no-encryption)",
            None,
            [(units["encrypted"], units["plaintext"])],
            notes=(
                f"informational: per new record {units['record']} for the record, "
                f"{units['pad']} for its pad in the key table, {units['index']} for the blind "
                f"index; an overwrite adds {units['replaced_pad']} to delete the replaced pad. "
                f"Largest items: record {units['record_bytes']} B, pad {units['pad_bytes']} B "
                f"(relay-like values, {units['keyring']} keyring)"
            ),
            extra=units,
        ),
    ]
