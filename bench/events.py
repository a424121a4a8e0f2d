"""Snowplow PII transformation events as enrich writes them, and Lambda Kinesis events
carrying them, for the relay's figures.

Each event has the shape of enrich's own (131 tab-separated fields; a ``parent_event``
context; three ``pii.pojo`` items and one ``pii.json`` item, SHA-256). Event ``i`` is
about user ``i % users``: a batch holds ``4 * users`` unique pairs, each user's carried
by several events, as in a real stream.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

FIELD_COUNT = 131
PAIRS_PER_EVENT = 4
_SNOWPLOW = "com.snowplowanalytics.snowplow"


def _pseudonym(original: str) -> str:
    return hashlib.sha256(original.encode()).hexdigest()


def _item(field_name: str, original: str) -> dict[str, str]:
    return {
        "fieldName": field_name,
        "originalValue": original,
        "modifiedValue": _pseudonym(original),
    }


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def pii_line(i: int, user: int) -> str:
    """Event ``i``, about ``user``."""
    event_id = str(uuid.UUID(int=i, version=4))
    parent_id = str(uuid.UUID(int=(i + 1) << 64, version=4))
    pojo = [
        _item("user_id", f"customer{user:06d}@example.com"),
        _item("user_ipaddress", f"10.{user >> 16 & 255}.{user >> 8 & 255}.{user & 255}"),
        _item("domain_userid", str(uuid.UUID(int=user, version=4))),
    ]
    json_item = {
        **_item("contexts", f"customer{user:06d}@mail.example.org"),
        "jsonPath": "$.emailAddress",
        "schema": "iglu:com.acme/email_sent/jsonschema/1-0-0",
    }
    unstruct = {
        "schema": f"iglu:{_SNOWPLOW}/unstruct_event/jsonschema/1-0-0",
        "data": {
            "schema": f"iglu:{_SNOWPLOW}/pii_transformation/jsonschema/1-0-0",
            "data": {
                "pii": {"pojo": pojo, "json": [json_item]},
                "strategy": {"pseudonymize": {"hashFunction": "SHA-256"}},
            },
        },
    }
    contexts = {
        "schema": f"iglu:{_SNOWPLOW}/contexts/jsonschema/1-0-0",
        "data": [
            {
                "schema": f"iglu:{_SNOWPLOW}/parent_event/jsonschema/1-0-0",
                "data": {"parentEventId": parent_id},
            }
        ],
    }
    fields = [""] * FIELD_COUNT
    fields[0], fields[1] = "shop", "srv"
    fields[2], fields[3] = "2026-01-01 12:00:01.123", "2026-01-01 12:00:00.000"
    fields[5], fields[6] = "pii_transformation", event_id
    fields[11] = "stream-enrich-3.9.0-common-3.9.0"
    fields[52], fields[58] = _json(contexts), _json(unstruct)
    fields[124] = fields[130] = "2026-01-01 12:00:01.456"
    fields[125:129] = [_SNOWPLOW, "pii_transformation", "jsonschema", "1-0-0"]
    return "\t".join(fields)


def pii_lines(count: int, users: int) -> list[str]:
    return [pii_line(i, i % users) for i in range(count)]


def kinesis_event(lines: list[str]) -> dict[str, Any]:
    """A Lambda Kinesis event with one record per line, in sequence order."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": str(n),
                    "sequenceNumber": f"4959033827149025660855969253836157109592157598913{n:07d}",
                    "data": base64.b64encode(line.encode()).decode("ascii"),
                    "approximateArrivalTimestamp": 1767268801.456,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{n}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/snowplow-pii",
            }
            for n, line in enumerate(lines)
        ]
    }
