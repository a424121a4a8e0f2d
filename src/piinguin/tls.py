"""TLS contexts for the server and for clients (CLI, relay, library), HTTP/2 only."""

from __future__ import annotations

import ssl


def server_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """TLS 1.2+ with ALPN h2. With ``client_ca``, client certificates signed by it are
    verified when presented; callers without one may still authenticate with a token."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_context(
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    *,
    ca_data: str | None = None,
) -> ssl.SSLContext:
    """Verify the server against ``ca`` (a PEM file) or ``ca_data`` (PEM text), or else the
    system's CAs; present ``cert`` for mutual TLS."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca, cadata=ca_data)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if cert:
        context.load_cert_chain(cert, key)
    return context
