"""The one ASGI app `aspreset serve` runs: Slack's requests at /slack/events (slash commands and
interactivity, signature-checked by Bolt), the deploy webhook at POST /hooks/deploy, /healthz,
and the MCP server's own ASGI app mounted at /mcp when one is given.

Bolt's dispatch is synchronous (the listener acks inline, then its lazy work goes to Bolt's
listener executor), so it runs in the threadpool: a slow Slack request never holds the event
loop. Work after the ack belongs to that executor, not to the HTTP connection: a client that
hangs up does not stop a restart in flight."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from bot.webhook import DeployWebhook

if TYPE_CHECKING:
    from slack_bolt import App

MCP_PATH = "/mcp"


def create_app(
    *,
    bolt: App | None,
    webhook: DeployWebhook | None,
    mcp: ASGIApp | None = None,
    mcp_lifespan: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> Starlette:
    """`mcp`: the MCP server's streamable-HTTP ASGI app (bot/mcp), mounted at /mcp; a mounted app's
    own lifespan does not run, so `mcp_lifespan` (e.g. its session manager's `run`) is entered
    here. `on_shutdown` runs when the server stops, after it stopped taking requests (it finishes
    the restarts in flight)."""

    async def slack_events(request: Request) -> Response:
        if bolt is None:
            return JSONResponse({"ok": False, "error": "slack_disabled",
                                 "message": "Slack events come over Socket Mode on this bot"}, status_code=404)
        from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

        body = await request.body()
        bolt_response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

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
    if mcp is not None:
        routes.append(Mount(MCP_PATH, app=mcp))  # the MCP engineer's streamable-HTTP app

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if mcp_lifespan is not None:
                await stack.enter_async_context(mcp_lifespan())
            yield
        for stop in on_shutdown:
            await run_in_threadpool(stop)

    return Starlette(routes=routes, lifespan=lifespan)
