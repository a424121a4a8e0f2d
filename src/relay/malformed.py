"""Why a Kinesis record could not be turned into pairs: one reason per record.

A reason names what was wrong with the record, never what was in it: reasons end up in
counters and log lines, and a record's content may be personal data.
"""

from __future__ import annotations

from enum import StrEnum


class Malformed(StrEnum):
    #: The Lambda record lacks ``kinesis.data`` or a usable ``kinesis.sequenceNumber``.
    MISSING_FIELDS = "missing_fields"
    #: ``kinesis.data`` is not strict base64.
    BAD_BASE64 = "bad_base64"
    #: The decoded bytes are not UTF-8.
    NOT_UTF8 = "not_utf8"
    #: The line does not have the 131 tab-separated fields of an enriched event.
    WRONG_FIELD_COUNT = "wrong_field_count"
    #: A PII event whose unstruct_event is not JSON, or not the self-describing envelope.
    BAD_JSON = "bad_json"
    #: A PII event that carries no storable pair at all.
    NO_PAIRS = "no_pairs"
    #: A PII event whose pairs are partly storable and partly not.
    BAD_PAIR = "bad_pair"
