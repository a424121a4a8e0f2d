"""The gRPC services: ``piinguin.v1`` (records and the audit API) and the original
piinguin protocol, with request validation and message <-> record conversion."""
