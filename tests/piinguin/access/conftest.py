"""A server with a real policy, TLS and client certificates, and clients for each principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from piinguin.access.auth import Authenticator
from piinguin.access.policy import token_digest
from piinguin.client import PiinguinClient
from piinguin.tls import client_context, server_context
from storage import MemoryStorage
from tests import conftest
from tests.doubles import RecordingAudit

from .certs import Authority, Pem

TOKENS = {
    "relay": "relay-token-3f9a",
    "support": "support-token-77c1",
    "eraser": "eraser-token-1b2d",
    "auditor": "auditor-token-9e0f",
}


def policy_text(tokens: dict[str, str] = TOKENS) -> str:
    def digest(name: str) -> str:
        return f'token_sha256 = ["{token_digest(tokens[name])}"]'

    return f"""
[principals.relay]
{digest("relay")}
operations = ["write"]

[principals.support]
{digest("support")}
operations = ["read"]
lawful_bases = ["consent", "contract"]
purpose_pattern = '^ticket-[0-9]+$'

[principals.eraser]
{digest("eraser")}
operations = ["delete"]

[principals.auditor]
{digest("auditor")}
operations = ["audit"]

[principals.dpo]
operations = ["read", "delete", "audit"]
lawful_bases = ["legal_obligation"]
"""


@dataclass
class Pki:
    ca: Pem
    server: Pem
    dpo: Pem
    stranger: Pem
    rogue: Pem  # signed by another CA


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    authority = Authority(directory)
    rogue = Authority(directory, "rogue CA")
    return Pki(
        ca=authority.pem,
        server=authority.issue("localhost", server=True),
        dpo=authority.issue("dpo"),
        stranger=authority.issue("stranger"),
        rogue=rogue.issue("dpo"),
    )


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(policy_text())
    return path


@dataclass
class Vault(conftest.Vault[MemoryStorage]):
    """The server with the policy above, TLS with client certificates, and its audit log."""

    audit: RecordingAudit = field(kw_only=True)
    pki: Pki = field(kw_only=True)

    def client(
        self, token: str | None = None, cert: Pem | None = None, **kwargs: Any
    ) -> PiinguinClient:
        context = client_context(
            self.pki.ca.cert, cert.cert if cert else None, cert.key if cert else None
        )
        return PiinguinClient(self.target, ssl=context, token=token, **kwargs)

    def as_(self, principal: str) -> PiinguinClient:
        return self.client(token=TOKENS[principal])


@pytest.fixture
async def vault(pki: Pki, policy_file: Path) -> AsyncIterator[Vault]:
    storage, audit = MemoryStorage(), RecordingAudit()
    async with conftest.running_server(
        storage,
        auth=Authenticator.from_file(policy_file),
        audit=audit,
        ssl_context=server_context(pki.server.cert, pki.server.key, pki.ca.cert),
    ) as server:
        yield Vault(server, storage, audit=audit, pki=pki)
