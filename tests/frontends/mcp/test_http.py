"""MCP over streamable HTTP on 127.0.0.1 (uvicorn, a real socket): a configured bearer token acts
as mcp:NAME; no token or an unknown one gets 401 and runs nothing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from bot.app.errors import ConfigError
from bot.config import McpClient, McpSettings
from bot.mcp.auth import client_digests, digest
from bot.mcp.http import mcp_http_app
from bot.mcp.services import ServiceSource

pytestmark = pytest.mark.anyio

TOKEN = "t0ken-for-the-assistant-0123456789"
OTHER_TOKEN = "t0ken-for-some-other-client-987654321"
SETTINGS = McpSettings(clients={"assistant": McpClient(token_env="ASSISTANT_TOKEN"),
                                "helper": McpClient(token_sha256=digest(OTHER_TOKEN).hex())})


@pytest.fixture
def url(service) -> Iterator[str]:
    app = mcp_http_app(ServiceSource.of(service), SETTINGS, {"ASSISTANT_TOKEN": TOKEN})

    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every call on a kept-alive connection waits ~40 ms for a delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts: no need to wait for it
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


def client(url: str, token: str | None, mode: str = "auto") -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)), mode=mode)


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # legacy: the initialize handshake older clients speak
async def test_over_http_the_bearer_token_acts_as_its_principal_and_runs_the_allowed_restart(url, demo_farm, mode):
    async with client(url, TOKEN, mode) as mcp:
        assert len((await mcp.list_tools()).tools) == 8
        done = await mcp.call_tool(
            "request_restart",
            {"site": "shop-web", "reason": "config", "note": "new connection string",
             "changed_files": ["App_Config/connectionStrings.config"]},
        )
        assert not done.is_error, done.content[0].text
        got = (await mcp.call_tool("get_request", {"request_id": done.structured_content["id"]})).structured_content
    assert got["requester"] == "mcp:assistant" and got["state"] == "succeeded" and got["rung"] == "appdomain"
    assert [h["outcome"] for h in got["hosts"]] == ["succeeded", "succeeded"]


async def test_over_http_a_worker_kill_waits_for_a_person(url, service, demo_farm):
    async with client(url, TOKEN) as mcp:
        waiting = await mcp.call_tool("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"})
        assert waiting.content[0].text.startswith("waiting for approval: request r-")
        request_id = waiting.structured_content["id"]
        service.approve(request_id, replace(service.principal("bob"), verified=True))  # bob, as Slack vouches for him
        got = (await mcp.call_tool("get_request", {"request_id": request_id})).structured_content
    assert got["state"] == "succeeded"


async def test_over_http_another_clients_token_acts_as_that_client_under_its_own_rules(url, demo_farm):
    async with client(url, OTHER_TOKEN) as mcp:
        refused = await mcp.call_tool("request_restart", {"site": "shop-web", "reason": "config", "note": "new"})
    assert refused.is_error and refused.structured_content["requester"] == "mcp:helper"
    assert "no rule lets mcp:helper" in refused.content[0].text
    assert all(host.received == [] for host in demo_farm.hosts.values())


@pytest.mark.parametrize("token", [None, "not-the-token-of-anyone-at-all", TOKEN + "x"])
async def test_over_http_no_token_or_an_unknown_one_gets_401_and_runs_nothing(url, token, demo_farm):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "request_restart", "arguments": {"site": "shop-web", "reason": "hung", "note": "x"}}}
    async with httpx2.AsyncClient(headers=headers) as http:
        response = await http.post(url, json=call, headers={"Accept": "application/json, text/event-stream"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert all(host.received == [] for host in demo_farm.hosts.values())


async def test_over_http_the_sdk_client_with_a_wrong_token_cannot_connect(url):
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    http = httpx2.AsyncClient(headers={"Authorization": "Bearer wrong-token-wrong-token-wrong"},
                              event_hooks={"response": [record]})
    with pytest.raises(BaseExceptionGroup) as caught:
        async with Client(streamable_http_client(url, http_client=http)) as mcp:
            await mcp.list_tools()
    assert caught.group_contains(MCPError)
    assert statuses and set(statuses) == {401}


def test_a_token_variable_that_is_not_set_is_refused_before_anything_serves():
    with pytest.raises(ConfigError, match=r"mcp\.clients\.assistant\.token_env: ASSISTANT_TOKEN is not set"):
        client_digests(SETTINGS, {})


def test_a_short_token_or_one_shared_by_two_clients_is_refused():
    with pytest.raises(ConfigError, match="shorter than 24 characters"):
        client_digests(SETTINGS, {"ASSISTANT_TOKEN": "short"})
    shared = McpSettings(clients={"a": McpClient(token_env="A"), "b": McpClient(token_sha256=digest(TOKEN).hex())})
    with pytest.raises(ConfigError, match=r"the same token as mcp\.clients\.a"):
        client_digests(shared, {"A": TOKEN})


def test_serve_mounts_no_mcp_endpoint_when_no_client_is_configured(service, tmp_path):
    from bot.config import load_settings
    from bot.mcp.http import serve_app

    assert serve_app(load_settings(environ={}, cwd=tmp_path), lambda: service) is None
    config = tmp_path / "aspreset.toml"
    config.write_text('[mcp.clients.assistant]\ntoken_env = "ASSISTANT_TOKEN"\n')
    settings = load_settings(config=str(config), environ={"ASSISTANT_TOKEN": TOKEN}, cwd=tmp_path)
    assert serve_app(settings, lambda: service) is not None
