"""MCP over streamable HTTP as an ASGI app, for the one ASGI app of `aspreset serve` (bot/http/asgi.py).

Every request needs `Authorization: Bearer TOKEN` with a token from `[mcp.clients.NAME]`; the SDK's
bearer middleware answers 401 to a missing or unknown one before any tool runs, and the tools act
as `mcp:NAME`. Stateless: no session lives in the process, so replicas behind a balancer need no
affinity (the store is what they share)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from bot.app.service import Service
from bot.config import McpSettings, Settings
from bot.http.asgi import MCP_PATH
from bot.mcp.auth import BearerTokens, authenticated_principal, client_digests
from bot.mcp.calls import WhereApproved, approve_in_slack, approve_with_cli
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource


@dataclass(frozen=True)
class McpHttpApp:
    """`app` serves POST/GET/DELETE at `/mcp`; the MCP session manager must run while it serves.
    Standalone (uvicorn on this object) its own lifespan runs it. Inside a bigger Starlette app, route
    it as `Route("/mcp", endpoint=mcp.app)` and enter `mcp.lifespan()` in that app's lifespan: Starlette
    does not run a routed app's lifespan."""

    app: Starlette

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        return _running(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def mcp_http_app(
    source: ServiceSource,
    settings: McpSettings,
    env: Mapping[str, str],
    *,
    where_approved: WhereApproved = approve_with_cli,
) -> McpHttpApp:
    """The MCP endpoint for the configured clients. Bad client configuration (a token variable
    unset, two clients with one token) raises ConfigError here, before anything serves."""
    verifier = BearerTokens(client_digests(settings, env))
    server = build_server(source, authenticated_principal, where_approved=where_approved, token_verifier=verifier)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, host="127.0.0.1")
    return McpHttpApp(app)


def serve_app(settings: Settings, service: Callable[[], Service]) -> McpHttpApp | None:
    """What `aspreset serve` mounts: the endpoint for the configured clients, or None when
    `[mcp.clients]` names none. `service` is called per tool call (serve builds its Service after
    the app); the Slack front end of `aspreset serve` posts approval requests to the site's channel."""
    if not settings.mcp.clients:
        return None
    return mcp_http_app(ServiceSource(service), settings.mcp, settings.env, where_approved=approve_in_slack)


@asynccontextmanager
async def _running(app: Starlette) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield
