"""Piinguin: a PII vault for Snowplow pipelines."""

__version__ = "0.1.0"
