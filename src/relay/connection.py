"""The relay's connection to Piinguin: one client, replaced when the server is unavailable.

A call that fails as ``Unavailable`` says the connection is no good for now: it died
while a Lambda was frozen, or the server behind it is draining (a draining server keeps
its connections and refuses every call on them until it exits). The writer then asks
for a new connection, which may reach a new server, or the same one restarted, and
tries once more.
"""

from __future__ import annotations

from piinguin.client import PiinguinClient
from relay.config import RelayConfig


class Connection:
    """Hands out the open client; ``replace`` swaps it for a new one.

    Build it anywhere (it reads the configured secrets and loads the TLS files, once,
    so a bad one fails here, as a configuration error); use it inside one event loop
    only, the loop it connects in.
    """

    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._credentials = config.credentials()
        self._client: PiinguinClient | None = None

    async def client(self) -> PiinguinClient:
        """The current client, opened on first use."""
        if self._client is None:
            config, credentials = self._config, self._credentials
            client = PiinguinClient(
                config.target,
                timeout=config.timeout_sec,
                ssl=credentials.ssl,
                token=credentials.token,
            )
            self._client = await client.__aenter__()
        return self._client

    async def replace(self, failed: PiinguinClient) -> None:
        """Close ``failed`` if it is still the current client: the next ``client()``
        connects anew. Calls still in flight on it fail, and are retried by their own
        writers."""
        if self._client is failed:
            self._client = None
            await failed.__aexit__(None, None, None)

    async def close(self) -> None:
        if self._client is not None:
            await self.replace(self._client)
