"""Extracting pairs from PII events: both item lists, both json item shapes, and an
event stored whole or not at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from piinguin.limits import (
    MAX_KEY_BYTES,
    MAX_ORIGINAL_BYTES,
    MAX_PROVENANCE_CHARS,
    record_problem,
)
from piinguin.v1 import PiiRecord
from relay.enriched import PiiEvent, read_line
from relay.extract import Pair, extract_pairs
from relay.malformed import Malformed
from relay.writer import to_record
from tests.relay.factory import (
    PARENT_EVENT_ID,
    PII_SCHEMA,
    TSTAMP,
    expected_pair,
    json_item,
    key,
    pii_json,
    pii_line,
    pojo_item,
    unstruct,
)

EMAIL_SCHEMA = "iglu:com.acme/email_sent/jsonschema/1-0-0"


def event(unstruct_event: str) -> PiiEvent:
    return PiiEvent("ads", TSTAMP, unstruct_event)


def pojo_pair(field_name: str, original: str) -> Pair:
    return expected_pair(key(original), original, field_name)


def json_pair(field_name: str, original: str, json_path: str = "$.emailAddress") -> Pair:
    return expected_pair(key(original), original, field_name, json_path, EMAIL_SCHEMA)


def test_pojo_items_only() -> None:
    payload = pii_json(
        [pojo_item("user_id", "john@acme.com"), pojo_item("user_ipaddress", "1.2.3.4")]
    )
    assert extract_pairs(event(payload)) == (
        pojo_pair("user_id", "john@acme.com"),
        pojo_pair("user_ipaddress", "1.2.3.4"),
    )


def test_json_items_only() -> None:
    payload = pii_json(None, [json_item("contexts", "jim@acme.com")])
    assert extract_pairs(event(payload)) == (json_pair("contexts", "jim@acme.com"),)


@pytest.mark.parametrize("wrapped", [False, True], ids=["flat", "fieldMapping"])
def test_both_lists_in_order(wrapped: bool) -> None:
    payload = pii_json(
        [pojo_item("user_id", "john@acme.com")],
        [
            json_item("unstruct_event", "jim@acme.com", wrapped=wrapped),
            json_item("contexts", "joe@acme.com", "$.to", wrapped=wrapped),
        ],
    )
    assert extract_pairs(event(payload)) == (
        pojo_pair("user_id", "john@acme.com"),
        json_pair("unstruct_event", "jim@acme.com"),
        json_pair("contexts", "joe@acme.com", "$.to"),
    )


def test_flat_and_wrapped_json_items_mix() -> None:
    payload = pii_json(
        None,
        [
            json_item("contexts", "jim@acme.com"),
            json_item("contexts", "joe@acme.com", wrapped=True),
        ],
    )
    assert extract_pairs(event(payload)) == (
        json_pair("contexts", "jim@acme.com"),
        json_pair("contexts", "joe@acme.com"),
    )


def test_keeps_the_same_key_twice_within_an_event() -> None:
    """Two fields with one original: de-duplication belongs to the batch, not here."""
    payload = pii_json(
        [pojo_item("user_id", "john@acme.com")], [json_item("contexts", "john@acme.com")]
    )
    pairs = extract_pairs(event(payload))
    assert isinstance(pairs, tuple)
    assert [p.modified_value for p in pairs] == [key("john@acme.com")] * 2


@pytest.mark.parametrize(
    ("hash_function", "strategy", "expected"),
    [
        ("MD5", None, "MD5"),
        (None, None, ""),
        (None, {"pseudonymize": {}}, ""),
        (None, {"pseudonymize": {"hashFunction": 256}}, ""),
        (None, {"pseudonymize": "SHA-1"}, ""),
        (None, "SHA-1", ""),
    ],
)
def test_hash_function_is_provenance_never_a_reason(
    hash_function: str | None, strategy: Any, expected: str
) -> None:
    data: dict[str, Any] = json.loads(
        pii_json([pojo_item("user_id", "a")], hash_function=hash_function)
    )
    if strategy is not None:
        data["data"]["data"]["strategy"] = strategy
    pairs = extract_pairs(event(json.dumps(data)))
    assert isinstance(pairs, tuple)
    assert pairs[0].hash_function == expected


def test_provenance_a_producer_left_out_is_empty() -> None:
    payload = pii_json(
        [{"originalValue": "john@acme.com", "modifiedValue": key("john@acme.com")}],
        [{"fieldMapping": {"originalValue": "jim@acme.com", "modifiedValue": key("jim@acme.com")}}],
    )
    assert extract_pairs(PiiEvent("", None, payload)) == (
        Pair(key("john@acme.com"), "john@acme.com", "", "", "", "SHA-256", "", None),
        Pair(key("jim@acme.com"), "jim@acme.com", "", "", "", "SHA-256", "", None),
    )


@pytest.mark.parametrize("iglu_prefix", [True, False])
@pytest.mark.parametrize("parent_event_id", [PARENT_EVENT_ID, "own id"])
def test_producer_quirks_in_contexts_cost_nothing(iglu_prefix: bool, parent_event_id: str) -> None:
    """Enrich R106-R109: parent_event's schema without ``iglu:``, and parentEventId set
    to the PII event's own id."""
    own_id = "2b1ff7a0-1b4c-4e4e-9a5e-6f1f3f0c7d11"
    line = pii_line(
        [pojo_item("user_id", "john@acme.com")],
        event_id=own_id,
        parent_event_id=own_id if parent_event_id == "own id" else parent_event_id,
        iglu_prefix=iglu_prefix,
    )
    pii_event = read_line(line)
    assert isinstance(pii_event, PiiEvent)
    assert extract_pairs(pii_event) == (pojo_pair("user_id", "john@acme.com"),)


def test_text_beyond_ascii_is_kept_whether_escaped_or_not() -> None:
    raw = pii_json([pojo_item("user_id", "jöhn@acme.com")])
    escaped = json.dumps(json.loads(raw), ensure_ascii=True)
    assert "\\u00f6" in escaped
    for payload in (raw.replace("\\u00f6", "ö"), escaped):
        assert extract_pairs(event(payload)) == (pojo_pair("user_id", "jöhn@acme.com"),)


def test_surrounding_whitespace_is_still_json() -> None:
    payload = " " + pii_json([pojo_item("user_id", "john@acme.com")]) + "\n"
    assert extract_pairs(event(payload)) == (pojo_pair("user_id", "john@acme.com"),)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("", id="empty"),
        pytest.param("{", id="truncated"),
        pytest.param(pii_json([pojo_item("user_id", "a")]) + "}", id="trailing text"),
        pytest.param("[" * 100_000, id="deeply nested"),
        pytest.param("[]", id="array"),
        pytest.param('"pii"', id="string"),
        pytest.param('{"schema": "x"}', id="no data"),
        pytest.param('{"data": {"schema": "x"}}', id="no inner data"),
        pytest.param('{"data": []}', id="data an array"),
        pytest.param(unstruct(PII_SCHEMA, "pii"), id="inner data a string"),
        pytest.param(unstruct(PII_SCHEMA, {"pii": None}), id="pii null"),
        pytest.param(unstruct(PII_SCHEMA, {"pii": []}), id="pii an array"),
        pytest.param(unstruct(PII_SCHEMA, {"pii": {"pojo": {}}}), id="pojo an object"),
        pytest.param(unstruct(PII_SCHEMA, {"pii": {"json": "x"}}), id="json a string"),
    ],
)
def test_bad_json(payload: str) -> None:
    assert extract_pairs(event(payload)) is Malformed.BAD_JSON


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(unstruct(PII_SCHEMA, {}), id="no pii"),
        pytest.param(pii_json(), id="no lists"),
        pytest.param(pii_json([], []), id="empty lists"),
        pytest.param(pii_json([{"fieldName": "user_id"}]), id="one item, no values"),
        pytest.param(
            pii_json([pojo_item("user_id", "")], [json_item("contexts", "", modified="")]),
            id="all items invalid",
        ),
    ],
)
def test_no_pairs(payload: str) -> None:
    assert extract_pairs(event(payload)) is Malformed.NO_PAIRS


VALID = pojo_item("user_id", "john@acme.com")
LONG_MODIFIED = "a" * (MAX_KEY_BYTES + 1)
LONG_MULTIBYTE_MODIFIED = "€" * (MAX_KEY_BYTES // 3 + 1)  # 3 bytes each


@pytest.mark.parametrize(
    ("pojo", "json_items"),
    [
        pytest.param(
            [VALID, {"fieldName": "user_id", "modifiedValue": "k"}], None, id="no original"
        ),
        pytest.param(
            [VALID, {"fieldName": "user_id", "originalValue": "v"}], None, id="no modified"
        ),
        pytest.param([VALID, pojo_item("user_id", "")], None, id="empty original"),
        pytest.param([VALID, pojo_item("user_id", "v", modified="")], None, id="empty modified"),
        pytest.param([VALID, {**VALID, "originalValue": 42}], None, id="number original"),
        pytest.param([VALID, {**VALID, "modifiedValue": None}], None, id="null modified"),
        pytest.param([VALID, {**VALID, "modifiedValue": ["k"]}], None, id="list modified"),
        pytest.param([VALID, {**VALID, "fieldName": 7}], None, id="number field name"),
        pytest.param([VALID, pojo_item("user_id", "v", LONG_MODIFIED)], None, id="long key"),
        pytest.param(
            [VALID, pojo_item("user_id", "v", LONG_MULTIBYTE_MODIFIED)],
            None,
            id="long key in bytes",
        ),
        pytest.param([VALID, "john@acme.com"], None, id="item a string"),
        pytest.param([VALID, ["v", "k"]], None, id="item an array"),
        pytest.param([VALID], [{**json_item("contexts", "v"), "jsonPath": 1}], id="number path"),
        pytest.param([VALID], [{**json_item("contexts", "v"), "schema": {}}], id="object schema"),
        pytest.param([VALID], [{"fieldMapping": "v"}], id="fieldMapping a string"),
        pytest.param(
            [VALID], [json_item("contexts", "", wrapped=True)], id="wrapped, empty original"
        ),
    ],
)
def test_one_bad_item_spoils_the_event(pojo: list[Any], json_items: list[Any] | None) -> None:
    assert extract_pairs(event(pii_json(pojo, json_items))) is Malformed.BAD_PAIR


@pytest.mark.parametrize(
    "escaped", ["\\ud800", "\\udfff", "\\ud83d"], ids=["lone high", "lone low", "half an emoji"]
)
@pytest.mark.parametrize("member", ["originalValue", "modifiedValue", "fieldName"])
def test_text_that_cannot_be_utf8_is_a_bad_pair(escaped: str, member: str) -> None:
    """JSON escapes can name lone surrogates, which no UTF-8 encoder (nor gRPC) takes."""
    item = {**VALID, member: "MARK"}
    payload = pii_json([VALID, item]).replace("MARK", f"x{escaped}")
    assert extract_pairs(event(payload)) is Malformed.BAD_PAIR


def test_a_key_of_exactly_the_limit_fits() -> None:
    ascii_key = "a" * MAX_KEY_BYTES
    multibyte_key = "é" * (MAX_KEY_BYTES // 2)
    payload = pii_json(
        [pojo_item("user_id", "v", ascii_key), pojo_item("user_id", "w", multibyte_key)]
    )
    for text in (payload, json.dumps(json.loads(payload), ensure_ascii=False)):
        pairs = extract_pairs(event(text))
        assert isinstance(pairs, tuple)
        assert [p.modified_value for p in pairs] == [ascii_key, multibyte_key]


OVER_ORIGINAL = "o" * (MAX_ORIGINAL_BYTES + 1)
OVER_ORIGINAL_IN_BYTES = "ü" * (MAX_ORIGINAL_BYTES // 2 + 1)  # 2 bytes each
OVER_PROVENANCE = "s" * (MAX_PROVENANCE_CHARS + 1)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(pojo_item("user_id", OVER_ORIGINAL), id="original over 64 KiB"),
        pytest.param(pojo_item("user_id", OVER_ORIGINAL_IN_BYTES), id="original over in bytes"),
        pytest.param(json_item("contexts", "v", schema=OVER_PROVENANCE), id="long schema"),
        pytest.param(json_item("contexts", "v", json_path=OVER_PROVENANCE), id="long json path"),
        pytest.param(pojo_item(OVER_PROVENANCE, "v"), id="long field name"),
        pytest.param(pojo_item("user_id", "v", "k\tv"), id="tab in key"),
        pytest.param(pojo_item("user_id", "v", "k\x7f"), id="DEL in key"),
        pytest.param(pojo_item("user_id", "v", "k\u2028"), id="line separator in key"),
    ],
)
@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf8"])
def test_a_pair_the_server_would_refuse_spoils_the_event(
    item: dict[str, Any], ascii_only: bool
) -> None:
    for with_valid, reason in ((True, Malformed.BAD_PAIR), (False, Malformed.NO_PAIRS)):
        in_json = "jsonPath" in item
        payload = pii_json(
            ([VALID] if with_valid else []) + ([] if in_json else [item]),
            [item] if in_json else None,
        )
        if not ascii_only:
            payload = json.dumps(json.loads(payload), ensure_ascii=False)

        assert extract_pairs(event(payload)) is reason


def test_a_long_app_id_or_hash_function_spoils_every_pair() -> None:
    payload = pii_json([VALID])
    long_hash = pii_json([VALID], hash_function=OVER_PROVENANCE)

    assert extract_pairs(PiiEvent("a" * (MAX_PROVENANCE_CHARS + 1), TSTAMP, payload)) is (
        Malformed.NO_PAIRS
    )
    assert extract_pairs(event(long_hash)) is Malformed.NO_PAIRS


def test_pairs_at_every_limit_are_kept() -> None:
    at_limit = "p" * MAX_PROVENANCE_CHARS
    items = [
        pojo_item("user_id", "o" * MAX_ORIGINAL_BYTES),
        pojo_item("user_id", "ü" * (MAX_ORIGINAL_BYTES // 2)),
        json_item(at_limit, "v", json_path=at_limit, schema=at_limit),
    ]
    payload = pii_json(items[:2], items[2:], hash_function=at_limit)

    pairs = extract_pairs(PiiEvent(at_limit, TSTAMP, payload))

    assert isinstance(pairs, tuple)
    assert len(pairs) == 3


def test_repr_redacts_the_original_value() -> None:
    pair = pojo_pair("user_id", "john@acme.com")
    assert "john@acme.com" not in repr(pair)
    assert "john@acme.com" not in repr((pair,))
    assert "<redacted>" in repr(pair)
    assert key("john@acme.com") in repr(pair)
    assert "user_id" in repr(pair)


def test_pairs_are_immutable() -> None:
    pair = pojo_pair("user_id", "john@acme.com")
    with pytest.raises(AttributeError):
        pair.original_value = "other"  # type: ignore[misc]
    assert hash(pair) == hash(pojo_pair("user_id", "john@acme.com"))


EDGES = [
    {"modified": "k" * MAX_KEY_BYTES},
    {"modified": "k" * (MAX_KEY_BYTES + 1)},
    {"modified": "é" * (MAX_KEY_BYTES // 2 + 1)},
    {"modified": "k\x7f"},
    {"modified": "k\x85"},
    {"modified": "k\u00a0"},
    {"original": "o" * MAX_ORIGINAL_BYTES},
    {"original": "o" * (MAX_ORIGINAL_BYTES + 1)},
    {"original": "€" * (MAX_ORIGINAL_BYTES // 3 + 1)},
    {"schema": "s" * MAX_PROVENANCE_CHARS},
    {"schema": "s" * (MAX_PROVENANCE_CHARS + 1)},
    {"app_id": "a" * MAX_PROVENANCE_CHARS},
    {"app_id": "a" * (MAX_PROVENANCE_CHARS + 1)},
    {"hash_function": "h" * (MAX_PROVENANCE_CHARS + 1)},
    {"schema": "s" * 1000, "json_path": "j" * 1000, "app_id": "a" * 1000},
]


@pytest.mark.parametrize("edge", EDGES, ids=",".join)
@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf8"])
def test_the_relay_keeps_exactly_the_pairs_the_server_accepts(
    edge: dict[str, str], ascii_only: bool
) -> None:
    fields = {
        "modified": "k",
        "original": "v",
        "schema": "iglu:x",
        "json_path": "$.x",
        "app_id": "ads",
        "hash_function": "SHA-256",
    } | edge
    item = json_item(
        "contexts",
        fields["original"],
        json_path=fields["json_path"],
        schema=fields["schema"],
        modified=fields["modified"],
    )
    payload = pii_json(None, [item], hash_function=fields["hash_function"])
    if not ascii_only:
        payload = json.dumps(json.loads(payload), ensure_ascii=False)
    record = PiiRecord(
        modified_value=fields["modified"],
        original_value=fields["original"],
        field_name="contexts",
        json_path=fields["json_path"],
        schema=fields["schema"],
        hash_function=fields["hash_function"],
        app_id=fields["app_id"],
    )

    pairs = extract_pairs(PiiEvent(fields["app_id"], TSTAMP, payload))

    assert isinstance(pairs, tuple) is (record_problem(record) is None)
    if isinstance(pairs, tuple):
        assert to_record(pairs[0]).original_value == record.original_value
