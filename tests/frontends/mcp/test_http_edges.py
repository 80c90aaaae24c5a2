"""The HTTP endpoint's edges: RFC 9728 protected-resource metadata named in every 401, so a client
knows it needs a bearer token and that there is no sign-in to start; and the Host names it answers
(loopback, serve's address, the names a reverse proxy keeps in `[mcp] allowed_hosts`)."""

from __future__ import annotations

import httpx2
import pytest

from bot.config import McpClient, McpSettings
from bot.mcp.http import WELL_KNOWN, mcp_http_app
from bot.mcp.services import ServiceSource

pytestmark = pytest.mark.anyio

TOKEN = "t0ken-for-the-assistant-0123456789"
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def app(service, **settings):  # type: ignore[no-untyped-def]
    config = McpSettings(clients={"assistant": McpClient(token_env="ASSISTANT_TOKEN")}, **settings)
    return mcp_http_app(ServiceSource.of(service), config, {"ASSISTANT_TOKEN": TOKEN})


async def test_a_401_names_the_metadata_which_says_bearer_tokens_and_no_sign_in(service):
    endpoint = app(service)
    async with endpoint.lifespan(), httpx2.AsyncClient(transport=httpx2.ASGITransport(app=endpoint),
                                                      base_url="http://127.0.0.1:3000") as http:
        refused = await http.post("/mcp", json=CALL, headers=ACCEPT)
        metadata = await http.get(WELL_KNOWN)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="http://127.0.0.1:3000{WELL_KNOWN}"' in challenge
    assert metadata.status_code == 200
    body = metadata.json()
    assert body["resource"] == "http://127.0.0.1:3000/mcp" and body["bearer_methods_supported"] == ["header"]
    assert "authorization_servers" not in body, "static tokens: no authorization server to sign in with"


async def test_behind_a_proxy_the_configured_url_and_authorization_server_are_advertised(service):
    endpoint = app(service, resource_url="https://bot.example.com/mcp", allowed_hosts=["bot.example.com"],
                   authorization_servers=["https://login.example.com"])
    async with endpoint.lifespan(), httpx2.AsyncClient(transport=httpx2.ASGITransport(app=endpoint),
                                                      base_url="https://bot.example.com") as http:
        refused = await http.post("/mcp", json=CALL, headers=ACCEPT)
        body = (await http.get(WELL_KNOWN)).json()
    assert f'resource_metadata="https://bot.example.com{WELL_KNOWN}"' in refused.headers["www-authenticate"]
    assert body == {"resource": "https://bot.example.com/mcp", "bearer_methods_supported": ["header"],
                    "resource_name": "aspreset", "authorization_servers": ["https://login.example.com"]}


@pytest.mark.parametrize(("allowed", "status"), [([], 421), (["bot.example.com"], 200)])
async def test_a_host_name_is_answered_only_when_allowed(service, allowed, status):
    endpoint = app(service, allowed_hosts=allowed)
    async with endpoint.lifespan(), httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=endpoint), base_url="http://bot.example.com",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        answer = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=ACCEPT)
    assert answer.status_code == status, answer.text
