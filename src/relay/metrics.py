"""The relay's counters as CloudWatch metrics, through the Embedded Metric Format.

One JSON line per invocation, written to stdout: Lambda sends stdout to CloudWatch
Logs, and CloudWatch turns a line whose ``_aws.CloudWatchMetrics`` names its members
into metrics, with no API call and no permission beyond writing logs. The line is
written whatever the log level, so metrics never depend on it; it carries counts and a
duration, never a key or a value.

Metrics, in the ``Piinguin/Relay`` namespace with the dimension ``FunctionName``:
``Records``, ``PairsWritten``, ``PairsFailed`` and ``PairsErased`` (unique keys; erased:
not stored because their data subject was erased, which is not a failure), ``Malformed`` and
``Reported`` (records), ``Duration`` (milliseconds).
"""

from __future__ import annotations

import time
from typing import TextIO

import orjson

from relay.summary import Summary

NAMESPACE = "Piinguin/Relay"
DIMENSION = "FunctionName"
UNITS = {
    "Records": "Count",
    "PairsWritten": "Count",
    "PairsFailed": "Count",
    "PairsErased": "Count",
    "Malformed": "Count",
    "Reported": "Count",
    "Duration": "Milliseconds",
}


def emf_line(
    summary: Summary, *, reported: int, duration_ms: float, function_name: str, now_ms: int
) -> str:
    """One invocation's metrics as an EMF document, on one line without its newline."""
    values = {
        "Records": summary.records,
        "PairsWritten": summary.written,
        "PairsFailed": summary.failed,
        "PairsErased": summary.erased,
        "Malformed": sum(summary.malformed.values()),
        "Reported": reported,
        "Duration": duration_ms,
    }
    document = {
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit in UNITS.items()],
                }
            ],
        },
        DIMENSION: function_name,
        **values,
    }
    return orjson.dumps(document).decode()


class EmbeddedMetrics:
    """Writes one EMF line per invocation to ``stream`` (stdout, in Lambda)."""

    def __init__(self, stream: TextIO, function_name: str) -> None:
        self._stream = stream
        self._function_name = function_name

    def publish(self, summary: Summary, *, reported: int, duration_ms: float) -> None:
        line = emf_line(
            summary,
            reported=reported,
            duration_ms=duration_ms,
            function_name=self._function_name,
            now_ms=time.time_ns() // 1_000_000,
        )
        self._stream.write(line + "\n")  # one write: a line never interleaves with a log line
        self._stream.flush()
