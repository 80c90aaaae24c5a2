"""The one ASGI app of `aspreset serve`, with MCP mounted at /mcp, closes what it opened when its
lifespan ends (uvicorn stopping): the store's database connections and the WinRM shells kept on
the hosts. Nothing else closes them here, so a lifespan that forgot would leave them open."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bot.config import load_settings
from bot.http.loopback import serve_on_loopback
from bot.mcp.http import serve_app
from bot.sim.cli import inventory_toml
from bot.slack.serving import Serving, build_serving

SLACK_TESTS = Path(__file__).resolve().parents[1] / "slack"
if str(SLACK_TESTS) not in sys.path:
    sys.path.insert(0, str(SLACK_TESTS))

from fake_slack import FakeSlack  # noqa: E402
from slack_http import SIGNING_SECRET  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TOKEN = "assistant-token-for-the-lifespan-0123456789"

pytestmark = pytest.mark.anyio


def open_files(path: Path) -> int:
    """How many of this process's file descriptors are open on `path` (Linux's /proc)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own descriptor)
            count += os.readlink(fd) == str(path)
    return count


async def test_the_serve_app_closes_the_store_and_the_hosts_shells_when_its_lifespan_ends(tmp_path, demo_farm):
    database = (tmp_path / "aspreset.db").resolve()
    (tmp_path / "farm.toml").write_text(inventory_toml(demo_farm.client_inventory()), encoding="utf-8")
    (tmp_path / "aspreset.toml").write_text('[mcp.clients.assistant]\ntoken_env = "ASPRESET_MCP_TOKEN_ASSISTANT"\n',
                                            encoding="utf-8")
    with FakeSlack() as fake_slack:
        env = {"SLACK_BOT_TOKEN": fake_slack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_BASE_URL": fake_slack.base_url, "ASPRESET_MCP_TOKEN_ASSISTANT": TOKEN,
               "HOME": str(tmp_path)}
        settings = load_settings(config=str(tmp_path / "aspreset.toml"), policy=str(EXAMPLES / "policy.toml"),
                                 inventory=str(tmp_path / "farm.toml"), db=f"sqlite:///{database}", environ=env,
                                 cwd=tmp_path)
        made: list[Serving] = []
        mcp = serve_app(settings, lambda: made[0].service)
        assert mcp is not None
        made.append(build_serving(settings, mcp=mcp, mcp_lifespan=mcp.lifespan))
        try:
            with serve_on_loopback(made[0].asgi) as url:
                http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
                async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                    assert not (await client.call_tool("list_requests", {})).is_error
                    assert not (await client.call_tool("site_status", {"site": "shop-web"})).is_error
                assert open_files(database) >= 1, "the store keeps its connections while serving"
                assert demo_farm.host("web01").open_shells == 1, "a shell is kept on each host it read"
            # uvicorn has stopped and run the app's shutdown: nothing but the lifespan closed anything
            assert open_files(database) == 0
            shells = {name: host.open_shells for name, host in demo_farm.hosts.items()}
            assert shells == dict.fromkeys(demo_farm.hosts, 0)
        finally:
            made[0].close()
