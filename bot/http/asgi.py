"""The one ASGI app `aspreset serve` runs: Slack's requests at /slack/events (slash commands and
interactivity, signature-checked by Bolt), the deploy webhook at POST /hooks/deploy, /healthz,
/metrics (bot/http/metrics.py) for the process's metrics registry when one is given, and the MCP
server's own ASGI app mounted at /mcp when one is given.

Slack's requests are turned into Bolt requests with Bolt's Starlette adapter functions, and Bolt's
synchronous dispatch (the signature check, the middleware and the listener's ack) runs on a worker
thread, never on the event loop: one slow dispatch does not hold /healthz, /mcp or /hooks behind
it. The real work is each listener's lazy function on Bolt's listener executor, not on the HTTP
connection: a client that hangs up does not stop a restart in flight."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from bot.http.metrics import METRICS_PATH, MetricsEndpoint
from bot.http.webhook import DeployWebhook

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from slack_bolt import App

MCP_PATH = "/mcp"  # the MCP front end serves its app at this path too (bot/mcp/http.py)
MCP_METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"  # and its RFC 9728 metadata here


def create_app(
    *,
    bolt: App | None,
    webhook: DeployWebhook | None,
    mcp: ASGIApp | None = None,
    mcp_lifespan: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    on_shutdown: Sequence[Callable[[], None]] = (),
    metrics: CollectorRegistry | None = None,
    metrics_token: str | None = None,
) -> Starlette:
    """`mcp`: the MCP server's streamable-HTTP ASGI app (bot/mcp), mounted at /mcp; a mounted app's
    own lifespan does not run, so `mcp_lifespan` (e.g. its session manager's `run`) is entered
    here. `on_shutdown` runs when the server stops, after it stopped taking requests (it finishes
    the restarts in flight). `metrics`: the registry GET /metrics serves (with `metrics_token`, only
    to that bearer; without, only to loopback clients)."""

    async def slack_events(request: Request) -> Response:
        if bolt is None:
            return JSONResponse({"ok": False, "error": "slack_disabled",
                                 "message": "Slack events come over Socket Mode on this bot"}, status_code=404)
        if not request.headers.get("x-slack-request-timestamp", "").isdigit():
            # Bolt's verifier would fail on int() of it: refuse it as Slack's signature check says to
            return JSONResponse({"error": "invalid request"}, status_code=401)
        body = await request.body()
        asked = to_bolt_request(request, body)
        # Bolt runs a request that says `x-slack-bolt-lazy-only` as its lazy function alone, without
        # the ack: meant for a process's own hand-over (bot/slack/work_process.py), never for a request
        # from outside, whose signature does not cover its headers
        asked.lazy_only, asked.lazy_function_name = False, None
        answer = await run_in_threadpool(bolt.dispatch, asked)
        return to_starlette_response(answer)

    async def deploy_hook(request: Request) -> Response:
        if webhook is None:
            return JSONResponse({"ok": False, "error": "webhook_disabled", "message": "no deploy webhook here"},
                                status_code=404)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = await run_in_threadpool(webhook.handle, headers, body)
        return JSONResponse(answer.body, status_code=answer.status)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "slack": bolt is not None, "webhook": webhook is not None,
                             "mcp": mcp is not None})

    routes: list[BaseRoute] = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/hooks/deploy", deploy_hook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if metrics is not None:
        routes.append(Route(METRICS_PATH, endpoint=MetricsEndpoint(metrics, metrics_token), methods=["GET"]))
    if mcp is not None:
        routes.append(Route(MCP_PATH, endpoint=mcp))  # an ASGI endpoint at exactly /mcp (a Mount would 307 it)
        routes.append(Route(MCP_METADATA_PATH, endpoint=mcp))  # its RFC 9728 metadata, which it serves itself

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if mcp_lifespan is not None:
                await stack.enter_async_context(mcp_lifespan())
            yield
        for stop in on_shutdown:
            await run_in_threadpool(stop)

    return Starlette(routes=routes, lifespan=lifespan)
