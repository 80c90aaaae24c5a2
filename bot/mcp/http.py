"""MCP over streamable HTTP as an ASGI app, for the one ASGI app of `aspreset serve` (bot/http/asgi.py).

Every request needs `Authorization: Bearer TOKEN` with a token from `[mcp.clients.NAME]`; the SDK's
bearer middleware answers 401 to a missing or unknown one before any tool runs, and the tools act
as `mcp:NAME`. Stateless: no session lives in the process, so replicas behind a balancer need no
affinity (the store is what they share)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from bot.app.service import Service
from bot.config import McpSettings, Settings
from bot.http.asgi import MCP_METADATA_PATH, MCP_PATH
from bot.mcp.auth import BearerTokens, authenticated_principal, client_digests
from bot.mcp.guidance import WhereApproved, at_the_terminal, in_slack
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource

WELL_KNOWN = MCP_METADATA_PATH  # RFC 9728 §3.1: the resource's path appended


@dataclass(frozen=True)
class McpHttpApp:
    """`app` serves POST/GET/DELETE at `/mcp`; the MCP session manager must run while it serves.
    Standalone (uvicorn on this object) its own lifespan runs it. Inside a bigger Starlette app, route
    `/mcp` and `WELL_KNOWN` to this object and enter `lifespan()` in that app's lifespan: Starlette
    does not run a routed app's lifespan.

    It also serves the endpoint's OAuth protected-resource metadata (RFC 9728) at `WELL_KNOWN` and
    names it in every 401's `WWW-Authenticate` (`resource_metadata`), so a client learns that it
    needs a bearer token (and, with no authorization server listed, that there is no sign-in)."""

    app: Starlette
    settings: McpSettings = field(default_factory=McpSettings)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        return _running(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == WELL_KNOWN:
            await JSONResponse(self.metadata(scope))(scope, receive, send)
            return
        where = self.metadata_url(scope)

        async def with_metadata(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                message = {**message, "headers": [
                    (key, value + f', resource_metadata="{where}"'.encode() if key.lower() == b"www-authenticate"
                     else value) for key, value in message.get("headers", [])]}
            await send(message)

        await self.app(scope, receive, with_metadata)

    def resource_url(self, scope: Scope) -> str:
        if self.settings.resource_url:
            return self.settings.resource_url
        host = Headers(scope=scope).get("host") or "127.0.0.1"
        return f"{scope.get('scheme', 'http')}://{host}{MCP_PATH}"

    def metadata_url(self, scope: Scope) -> str:
        resource = urlsplit(self.resource_url(scope))
        return f"{resource.scheme}://{resource.netloc}{WELL_KNOWN}"

    def metadata(self, scope: Scope) -> dict[str, object]:
        """RFC 9728 §2. `authorization_servers` only when one is configured: with static tokens
        there is none to sign in with."""
        out: dict[str, object] = {"resource": self.resource_url(scope), "bearer_methods_supported": ["header"],
                                  "resource_name": "aspreset"}
        if self.settings.authorization_servers:
            out["authorization_servers"] = list(self.settings.authorization_servers)
        return out


def mcp_http_app(
    source: ServiceSource,
    settings: McpSettings,
    env: Mapping[str, str],
    *,
    where_approved: WhereApproved = at_the_terminal,
    host: str = "127.0.0.1",
) -> McpHttpApp:
    """The MCP endpoint for the configured clients. Bad client configuration (a token variable
    unset, two clients with one token) raises ConfigError here, before anything serves. `host` is
    where serve listens; requests must name it, a loopback name, or one of `allowed_hosts`."""
    verifier = BearerTokens(client_digests(settings, env))
    server = build_server(source, authenticated_principal, where_approved=where_approved, token_verifier=verifier)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, host=host,
                                     transport_security=transport_security(host, settings.allowed_hosts))
    return McpHttpApp(app, settings)


def transport_security(host: str, allowed: list[str]) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding guard: the Host (and Origin, when a browser sends one) must be one of
    ours: loopback, the address serve listens on, or a name a reverse proxy keeps."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(f"[{host}]" if ":" in host else host)
    names += allowed
    hosts = [name for n in names for name in ((n,) if ":" in n.lstrip("[").split("]")[-1] else (n, f"{n}:*"))]
    origins = [f"{scheme}://{name}" for scheme in ("http", "https") for name in hosts]
    return TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)


def serve_app(settings: Settings, service: Callable[[], Service], host: str = "127.0.0.1") -> McpHttpApp | None:
    """What `aspreset serve` mounts: the endpoint for the configured clients, or None when
    `[mcp.clients]` names none. `service` is called per tool call (serve builds its Service after
    the app); the Slack front end of `aspreset serve` posts approval requests to the site's channel."""
    if not settings.mcp.clients:
        return None
    return mcp_http_app(ServiceSource(service), settings.mcp, settings.env, where_approved=in_slack, host=host)


@asynccontextmanager
async def _running(app: Starlette) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield
