"""Bearer tokens of MCP clients over HTTP: `[mcp.clients.NAME]` in aspreset.toml maps a token to
the principal `mcp:NAME`. Tokens are compared by SHA-256 digest in constant time and never logged;
an unknown or missing token gets 401 from the SDK's bearer middleware before any tool runs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from bot.app.errors import ConfigError, NotAllowed
from bot.config import McpSettings
from bot.mcp.services import assistant
from policies.identity import Principal

MIN_TOKEN_LENGTH = 24
TOKEN_HINT = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def client_digests(settings: McpSettings, env: Mapping[str, str]) -> dict[bytes, str]:
    """SHA-256 of each client's token -> its name. A token named by `token_env` must be set and
    long enough; bad configuration is refused here, before anything serves."""
    out: dict[bytes, str] = {}
    for name, client in sorted(settings.clients.items()):
        assistant(name)  # the name must make a valid principal
        where = f"mcp.clients.{name}"
        if client.token_env is not None:
            token = env.get(client.token_env, "")
            if not token:
                raise ConfigError(f"{where}.token_env: {client.token_env} is not set; export the client's token there "
                                  f"({TOKEN_HINT})")
            if len(token) < MIN_TOKEN_LENGTH:
                raise ConfigError(f"{where}.token_env: the token in {client.token_env} is shorter than "
                                  f"{MIN_TOKEN_LENGTH} characters; {TOKEN_HINT}")
            key = digest(token)
        else:
            assert client.token_sha256 is not None
            key = bytes.fromhex(client.token_sha256)
        if key in out:
            raise ConfigError(f"{where}: the same token as mcp.clients.{out[key]}; give each client its own")
        out[key] = name
    return out


class BearerTokens:
    """The SDK's TokenVerifier over the configured clients: the token's client id is the NAME."""

    def __init__(self, digests: Mapping[bytes, str]) -> None:
        self._digests = dict(digests)

    async def verify_token(self, token: str) -> AccessToken | None:
        given = digest(token)
        found: str | None = None
        for key, name in self._digests.items():  # compare against every key: no early exit to time
            if hmac.compare_digest(given, key):
                found = name
        if found is None:
            return None
        return AccessToken(token=token, client_id=found, scopes=[])


def authenticated_principal() -> Principal:
    """`mcp:NAME` of the client whose bearer token authenticated this HTTP request. Without one
    (which the middleware already prevents) the tool fails closed."""
    token = get_access_token()
    if token is None:
        raise NotAllowed("no authenticated MCP client: send the bearer token configured in [mcp.clients]")
    return assistant(token.client_id)
