"""Builders for the relay's tests: enriched TSV lines (131 fields), their PII payloads,
and Lambda Kinesis events carrying them.

Every builder returns plain data (``str`` lines, ``dict`` records) exactly as enrich and
Lambda would produce it, so the code under test sees nothing the factory made easier.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relay.extract import Pair

#: The shared samples live beside the repository, in ``shared/samples``.
#: Copies of the team's real-shaped samples (shared/samples/), kept with the tests so a
#: clone tests the same anywhere.
SAMPLES = Path(__file__).resolve().parent / "samples"

FIELD_COUNT = 131
APP_ID, PLATFORM, ETL_TSTAMP, COLLECTOR_TSTAMP, EVENT, EVENT_ID = 0, 1, 2, 3, 5, 6
V_ETL, CONTEXTS, UNSTRUCT_EVENT = 11, 52, 58
EVENT_VENDOR, EVENT_NAME, EVENT_FORMAT, EVENT_VERSION = 125, 126, 127, 128

SNOWPLOW = "com.snowplowanalytics.snowplow"
PII_SCHEMA = f"iglu:{SNOWPLOW}/pii_transformation/jsonschema/1-0-0"
COLLECTOR_TSTAMP_TEXT = "2017-07-14 03:39:39.000"
TSTAMP = datetime(2017, 7, 14, 3, 39, 39, tzinfo=UTC)  # COLLECTOR_TSTAMP_TEXT, parsed
PARENT_EVENT_ID = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
PII_EVENT_ID = "2b1ff7a0-1b4c-4e4e-9a5e-6f1f3f0c7d11"


def key(original: str) -> str:
    """The pseudonym the factory gives an original value: SHA-256 hex, like enrich's."""
    return hashlib.sha256(original.encode()).hexdigest()


def expected_pair(
    modified: str, original: str, field_name: str, json_path: str = "", schema: str = ""
) -> Pair:
    """A pair as extracted from a ``pii_line`` with its defaults (and from the samples):
    SHA-256, app ``ads``, collected at ``TSTAMP``."""
    return Pair(modified, original, field_name, json_path, schema, "SHA-256", "ads", TSTAMP)


def stub_pair(modified: str, app_id: str = "ads") -> Pair:
    """A pair for batch logic, where only the key (and which one won) matters."""
    return Pair(modified, "original", "user_id", "", "", "SHA-256", app_id, None)


def sequence_number(n: int) -> str:
    """A Kinesis-like sequence number; ``n`` orders them."""
    return f"4959033827149025660855969253836157109592157598913658{n:04d}"


def pojo_item(field_name: str, original: str, modified: str | None = None) -> dict[str, Any]:
    return {
        "fieldName": field_name,
        "originalValue": original,
        "modifiedValue": key(original) if modified is None else modified,
    }


def json_item(
    field_name: str,
    original: str,
    json_path: str = "$.emailAddress",
    schema: str = "iglu:com.acme/email_sent/jsonschema/1-0-0",
    modified: str | None = None,
    *,
    wrapped: bool = False,
) -> dict[str, Any]:
    """A ``pii.json`` item: flat as enrich writes it, or ``wrapped`` in ``fieldMapping``
    as the iglu schema has it."""
    item = {
        "fieldName": field_name,
        "originalValue": original,
        "modifiedValue": key(original) if modified is None else modified,
        "jsonPath": json_path,
        "schema": schema,
    }
    return {"fieldMapping": item} if wrapped else item


def pii_json(
    pojo: list[Any] | None = None,
    json_items: list[Any] | None = None,
    *,
    hash_function: str | None = "SHA-256",
    schema: str = PII_SCHEMA,
) -> str:
    """The unstruct_event field of a PII event; a list that is ``None`` is left out."""
    pii: dict[str, Any] = {}
    if pojo is not None:
        pii["pojo"] = pojo
    if json_items is not None:
        pii["json"] = json_items
    data: dict[str, Any] = {"pii": pii}
    if hash_function is not None:
        data["strategy"] = {"pseudonymize": {"hashFunction": hash_function}}
    return unstruct(schema, data)


def unstruct(schema: str, data: Any) -> str:
    envelope = {
        "schema": f"iglu:{SNOWPLOW}/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": schema, "data": data},
    }
    return json.dumps(envelope, separators=(",", ":"))


def parent_event_contexts(parent_event_id: str, *, iglu_prefix: bool = True) -> str:
    """The contexts field of a PII event. Enrich R106-R109 left out the ``iglu:``."""
    schema = f"{SNOWPLOW}/parent_event/jsonschema/1-0-0"
    context = {
        "schema": f"iglu:{schema}" if iglu_prefix else schema,
        "data": {"parentEventId": parent_event_id},
    }
    return json.dumps(
        {"schema": f"iglu:{SNOWPLOW}/contexts/jsonschema/1-0-0", "data": [context]},
        separators=(",", ":"),
    )


def enriched_line(fields: dict[int, str], *, count: int = FIELD_COUNT) -> str:
    """A line of ``count`` tab-separated fields, empty but for ``fields``."""
    values = [""] * count
    for position, value in fields.items():
        values[position] = value
    return "\t".join(values)


def pii_line(
    pojo: list[Any] | None = None,
    json_items: list[Any] | None = None,
    *,
    unstruct_event: str | None = None,
    app_id: str = "ads",
    collector_tstamp: str = COLLECTOR_TSTAMP_TEXT,
    event_id: str = PII_EVENT_ID,
    parent_event_id: str = PARENT_EVENT_ID,
    iglu_prefix: bool = True,
    hash_function: str | None = "SHA-256",
    event: str = "pii_transformation",
    event_name: str = "pii_transformation",
    event_vendor: str = SNOWPLOW,
    count: int = FIELD_COUNT,
) -> str:
    """A PII transformation event as enrich emits it on the PII stream.

    ``parent_event_id=event_id`` and ``iglu_prefix=False`` give the R106-R109 quirks.
    """
    if unstruct_event is None:
        unstruct_event = pii_json(pojo, json_items, hash_function=hash_function)
    return enriched_line(
        {
            APP_ID: app_id,
            PLATFORM: "srv",
            ETL_TSTAMP: "2017-07-14 03:39:41.123",
            COLLECTOR_TSTAMP: collector_tstamp,
            EVENT: event,
            EVENT_ID: event_id,
            V_ETL: "stream-enrich-0.19.1-common-0.35.0",
            CONTEXTS: parent_event_contexts(parent_event_id, iglu_prefix=iglu_prefix),
            UNSTRUCT_EVENT: unstruct_event,
            EVENT_VENDOR: event_vendor,
            EVENT_NAME: event_name,
            EVENT_FORMAT: "jsonschema",
            EVENT_VERSION: "1-0-0",
        },
        count=count,
    )


def page_view_line(user_id: str = "john@acme.com") -> str:
    """An ordinary page view, which the relay passes over."""
    return enriched_line(
        {
            APP_ID: "ads",
            PLATFORM: "web",
            COLLECTOR_TSTAMP: COLLECTOR_TSTAMP_TEXT,
            EVENT: "page_view",
            EVENT_ID: "0c5e1fc4-a3a6-4a47-8a25-5e23c0d0bb1a",
            12: user_id,
            EVENT_VENDOR: SNOWPLOW,
            EVENT_NAME: "page_view",
            EVENT_FORMAT: "jsonschema",
            EVENT_VERSION: "1-0-0",
        }
    )


def kinesis_record(
    payload: str | bytes, number: int, *, partition_key: str = PARENT_EVENT_ID
) -> dict[str, Any]:
    """A Lambda Kinesis record carrying ``payload`` (text is encoded as UTF-8)."""
    raw = payload.encode() if isinstance(payload, str) else payload
    return raw_record(base64.b64encode(raw).decode("ascii"), number, partition_key=partition_key)


def raw_record(
    data: object, number: int, *, partition_key: str = PARENT_EVENT_ID
) -> dict[str, Any]:
    """A Lambda Kinesis record whose ``data`` is given as is (say, not base64)."""
    seq = sequence_number(number)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": seq,
            "data": data,
            "approximateArrivalTimestamp": 1500003581.456,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "awsRegion": "eu-west-1",
        "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/snowplow-pii",
    }


def lambda_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def load_sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def failure_message(
    stream_arn: str, shard_id: str, start: str, end: str, batch_size: int
) -> dict[str, Any]:
    """What Lambda sends its on-failure destination for a Kinesis batch it gave up on
    (the documented shape, a real message's fields and values)."""
    return {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4a1a-af9c-0c604cde93a5",
            "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:piinguin-relay",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1001,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "",
        },
        "version": "1.0",
        "timestamp": "2026-11-29T03:41:09.021Z",
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-11-29T03:39:04.835Z",
            "approximateArrivalOfLastRecord": "2026-11-29T03:39:05.580Z",
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }
