"""GET /metrics on serve's ASGI app: prometheus_client's own exposition app (text format, OpenMetrics
when the scraper asks for it, gzip) over this process's registry, behind one check.

`serve` often listens on an address Slack can reach, and the metrics name sites, hosts and how
restarts went: so with ASPRESET_METRICS_TOKEN set, a scrape must carry `Authorization: Bearer
<token>` (Prometheus' `authorization` in its scrape config); without it, only clients on this
machine (loopback) are answered. The token is not /mcp's: a scraper must not be able to restart."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

METRICS_PATH = "/metrics"


class MetricsEndpoint:
    def __init__(self, registry: CollectorRegistry, token: str | None) -> None:
        self.exposition = make_asgi_app(registry)
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.exposition(scope, receive, send)

    def refusal(self, request: Request) -> JSONResponse | None:
        if self.token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self.token.encode()):
                return None
            return JSONResponse({"ok": False, "error": "unauthorized",
                                 "message": "/metrics needs Authorization: Bearer <ASPRESET_METRICS_TOKEN>"},
                                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        if _loopback(request.client.host if request.client else None):
            return None
        return JSONResponse({"ok": False, "error": "forbidden",
                             "message": "/metrics answers only this machine unless ASPRESET_METRICS_TOKEN is set "
                                        "on the bot (then scrape with that bearer token)"}, status_code=403)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ip_address(address).is_loopback
    except ValueError:
        return False
