"""The CLI is tested against the same servers as the client library it is built on."""

from tests.piinguin.client.conftest import client, scripted, vault

__all__ = ["client", "scripted", "vault"]
