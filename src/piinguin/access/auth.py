"""Authentication: bearer tokens from the policy, or a verified client certificate.

The policy can be swapped at runtime (SIGHUP): calls already running keep the grant they
were authenticated with, new calls see the new policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.protocol import Peer

from piinguin.access.policy import EVERYTHING, Grant, Policy


@dataclass(frozen=True, slots=True)
class Caller:
    principal: str
    grant: Grant
    via: str  # token, certificate, insecure


def _unauthenticated(message: str) -> GRPCError:
    return GRPCError(Status.UNAUTHENTICATED, message)


def bearer_token(metadata: Mapping[str, Any]) -> str | None:
    """The token of an ``authorization: Bearer <token>`` header, or None when absent."""
    header = metadata.get("authorization")
    if header is None:
        return None
    scheme, _, token = str(header).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("authorization metadata must be 'Bearer <token>'")
    return token.strip()


def certificate_name(peer: Peer) -> str | None:
    """The subject common name of the client's verified certificate, if it sent one."""
    cert = peer.cert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class Authenticator:
    def __init__(self, policy: Policy | None, *, path: Path | None = None) -> None:
        self._policy = policy
        self.path = path
        #: Token callers of the current policy, by principal: a Caller is immutable, so
        #: every call of a principal can share one (emptied when the policy changes).
        self._callers: dict[str, Caller] = {}

    @classmethod
    def insecure(cls) -> Authenticator:
        """Every caller is ``anonymous`` and may do everything: local development only."""
        return cls(None)

    @classmethod
    def from_file(cls, path: Path) -> Authenticator:
        return cls(Policy.load(path), path=path)

    @property
    def is_insecure(self) -> bool:
        return self._policy is None

    def reload(self) -> Policy:
        """Read the policy file again; on error the current policy stays (PolicyError)."""
        if self.path is None:
            raise ValueError("this authenticator has no policy file to reload")
        self._policy = Policy.load(self.path)
        self._callers = {}
        return self._policy

    def authenticate(self, metadata: Mapping[str, Any], peer: Peer) -> Caller:
        policy = self._policy
        if policy is None:
            return Caller(EVERYTHING.principal, EVERYTHING, "insecure")
        token = bearer_token(metadata)
        if token is not None:
            principal = policy.principal_for_token(token)
            if principal is None:
                raise _unauthenticated("the bearer token is not known")
            caller = self._callers.get(principal)
            if caller is None:
                caller = self._callers[principal] = Caller(
                    principal, policy.grants[principal], "token"
                )
            return caller
        name = certificate_name(peer)
        if name is not None:
            grant = policy.grants.get(name)
            if grant is None:
                raise _unauthenticated("the client certificate names no known principal")
            return Caller(name, grant, "certificate")
        raise _unauthenticated("send a bearer token or a client certificate")
