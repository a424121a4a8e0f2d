"""Reading enriched lines: the field count, which events are PII events, and the fields
their pairs need."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relay.enriched import PiiEvent, read_line, utc_tstamp
from relay.malformed import Malformed
from tests.relay.factory import (
    APP_ID,
    COLLECTOR_TSTAMP,
    EVENT,
    EVENT_NAME,
    EVENT_VENDOR,
    FIELD_COUNT,
    PII_SCHEMA,
    SNOWPLOW,
    TSTAMP,
    UNSTRUCT_EVENT,
    enriched_line,
    load_sample,
    page_view_line,
    pii_json,
    pii_line,
    pojo_item,
    unstruct,
)


def test_reads_the_shared_sample() -> None:
    line = load_sample("pii-event.tsv").removesuffix("\n")
    assert read_line(line) == PiiEvent("ads", TSTAMP, line.split("\t")[UNSTRUCT_EVENT])


def test_reads_app_id_timestamp_and_unstruct_event() -> None:
    payload = pii_json([pojo_item("user_id", "john@acme.com")])
    line = pii_line(
        unstruct_event=payload, app_id="shop", collector_tstamp="2021-01-31 23:59:59.999"
    )
    expected = datetime(2021, 1, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert read_line(line) == PiiEvent("shop", expected, payload)


@pytest.mark.parametrize("count", [1, 59, 60, 125, 127, 130, 132, 200])
def test_other_field_counts_are_malformed(count: int) -> None:
    fields = pii_line([pojo_item("user_id", "john@acme.com")]).split("\t")
    line = "\t".join((fields + [""] * count)[:count])
    assert len(line.split("\t")) == count
    assert read_line(line) is Malformed.WRONG_FIELD_COUNT


def test_a_trailing_tab_is_one_field_too_many() -> None:
    assert read_line(pii_line([pojo_item("user_id", "john@acme.com")]) + "\t") is (
        Malformed.WRONG_FIELD_COUNT
    )


def test_a_page_view_is_not_a_pii_event() -> None:
    assert read_line(page_view_line()) is None


@pytest.mark.parametrize(
    ("event", "event_name", "vendor", "schema", "is_pii"),
    [
        pytest.param("pii_transformation", "pii_transformation", SNOWPLOW, PII_SCHEMA, True),
        pytest.param("unstruct", "pii_transformation", SNOWPLOW, PII_SCHEMA, True),
        # Tolerated: names missing or wrong, but the schema says PII (any 1-*-*).
        pytest.param("unstruct", "", "", PII_SCHEMA, True, id="unstruct without names"),
        pytest.param(
            "pii_transformation",
            "",
            "",
            f"iglu:{SNOWPLOW}/pii_transformation/jsonschema/1-2-3",
            True,
            id="later 1-x-y schema",
        ),
        pytest.param("unstruct", "link_click", SNOWPLOW, PII_SCHEMA, True, id="misnamed"),
        # Not PII.
        pytest.param(
            "unstruct",
            "",
            "",
            f"iglu:{SNOWPLOW}/pii_transformation/jsonschema/2-0-0",
            False,
            id="schema 2-0-0",
        ),
        pytest.param(
            "unstruct",
            "pii_transformation",
            "com.acme",
            "iglu:com.acme/pii_transformation/jsonschema/1-0-0",
            False,
            id="another vendor's pii_transformation",
        ),
        pytest.param(
            "page_view", "page_view", SNOWPLOW, PII_SCHEMA, False, id="page view naming the schema"
        ),
    ],
)
def test_which_events_are_pii_events(
    event: str, event_name: str, vendor: str, schema: str, is_pii: bool
) -> None:
    payload = unstruct(schema, {"pii": {"pojo": [pojo_item("user_id", "john@acme.com")]}})
    line = pii_line(unstruct_event=payload, event=event, event_name=event_name, event_vendor=vendor)
    assert isinstance(read_line(line), PiiEvent) is is_pii


@pytest.mark.parametrize("value", ["", "yesterday", "2017-07-14 03:39:39.000+02:00", "2017-07-14"])
def test_an_unusable_timestamp_costs_the_provenance_not_the_event(value: str) -> None:
    event = read_line(pii_line([pojo_item("user_id", "john@acme.com")], collector_tstamp=value))
    assert isinstance(event, PiiEvent)
    assert event.collector_tstamp is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-07-14 03:39:39.000", TSTAMP),
        ("2017-07-14 03:39:39.123", TSTAMP.replace(microsecond=123000)),
        ("2017-07-14 03:39:39", TSTAMP),
    ],
)
def test_timestamps_are_utc(value: str, expected: datetime) -> None:
    parsed = utc_tstamp(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset() == expected.utcoffset()


def _naive_read(line: str) -> PiiEvent | Malformed | None:
    """What read_line does, the obvious way: one full split."""
    fields = line.split("\t")
    if len(fields) != FIELD_COUNT:
        return Malformed.WRONG_FIELD_COUNT
    if fields[EVENT_NAME] != "pii_transformation" or fields[EVENT_VENDOR] != SNOWPLOW:
        return None
    return PiiEvent(fields[APP_ID], utc_tstamp(fields[COLLECTOR_TSTAMP]), fields[UNSTRUCT_EVENT])


def _shifted_lines() -> list[str]:
    """Lines whose fields sit at every offset around the ones read_line reads."""
    base = {
        APP_ID: "ads",
        COLLECTOR_TSTAMP: "2017-07-14 03:39:39.000",
        EVENT: "pii_transformation",
        UNSTRUCT_EVENT: "{}",
        EVENT_VENDOR: SNOWPLOW,
        EVENT_NAME: "pii_transformation",
    }
    lines = []
    for count in range(FIELD_COUNT - 3, FIELD_COUNT + 4):
        for shift in (-2, -1, 0, 1, 2):
            fields = {min(max(p + shift, 0), count - 1): v for p, v in base.items()}
            lines.append(enriched_line(fields, count=count))
    return lines


def test_agrees_with_a_full_split_wherever_the_fields_sit() -> None:
    lines = _shifted_lines()
    assert sum(isinstance(read_line(line), PiiEvent) for line in lines) == 1
    for line in lines:
        assert read_line(line) == _naive_read(line)


def test_repr_keeps_the_payload_out() -> None:
    event = read_line(pii_line([pojo_item("user_id", "john@acme.com")]))
    assert "john@acme.com" not in repr(event)
    assert "ads" in repr(event)
