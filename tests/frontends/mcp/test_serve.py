"""The assistant on `aspreset serve`, a process of its own: MCP at /mcp on the bot's one ASGI app,
next to Slack (its Web API a local fake) and the simulated farm. A worker kill the assistant asks
for is posted to the site's Slack channel and named in the tool's answer; it waits until bob
clicks Approve in Slack, and get_request then shows the new PIDs. Without a token: 401."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from child_output import read_until
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bot.sim.cli import inventory_toml

SLACK_TESTS = Path(__file__).resolve().parents[1] / "slack"
if str(SLACK_TESTS) not in sys.path:
    sys.path.insert(0, str(SLACK_TESTS))

from fake_slack import FakeSlack  # noqa: E402
from slack_http import BOB, SIGNING_SECRET, SlackSender  # noqa: E402
from slack_messages import approval_message, buttons, worker_kills  # noqa: E402

from bot.slack.blocks import APPROVE  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TOKEN = "assistant-token-for-serve-0123456789"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def serve(fake_slack, farm_inventory, tmp_path) -> Iterator[str]:
    (tmp_path / "farm.toml").write_text(inventory_toml(farm_inventory), encoding="utf-8")
    config = tmp_path / "aspreset.toml"
    config.write_text('[mcp.clients.assistant]\ntoken_env = "ASPRESET_MCP_TOKEN_ASSISTANT"\n', encoding="utf-8")
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url, ASPRESET_MCP_TOKEN_ASSISTANT=TOKEN)
    env.pop("ASPRESET_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--config", str(config),
         "--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(tmp_path / "farm.toml"),
         "--db", f"sqlite:///{tmp_path / 'aspreset.db'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        found = read_until(process.stderr, rb"listening on 127\.0\.0\.1:(\d+) \(.*MCP at /mcp")
        yield f"http://127.0.0.1:{int(found.group(1))}"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


@pytest.mark.anyio
async def test_on_serve_a_worker_kill_is_posted_to_slack_and_runs_only_after_bob_clicks_approve(
    serve, fake_slack, demo_farm
):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    before = demo_farm.host("web01").pids("ShopPool")
    async with Client(streamable_http_client(f"{serve}/mcp", http_client=http)) as mcp:
        waiting = await mcp.call_tool("request_restart", {"site": "shop-web", "reason": "hung", "note": "it hangs"})
        text = waiting.content[0].text
        match = re.match(r"waiting for approval: request (r-\w+)", text)
        assert match and "posted in the Slack channel #shop-deploys" in text and "<#" not in text, text
        request_id = match.group(1)

        posted = approval_message(fake_slack)
        assert posted.body["channel"] == "C0SHOP" and "mcp:assistant" in posted.text_everywhere
        assert worker_kills(demo_farm) == 0 and demo_farm.host("web01").pids("ShopPool") == before

        slack = SlackSender(serve, SIGNING_SECRET, fake_slack.response_url("serve"))
        approve = next(b for b in buttons(posted) if b["action_id"] == APPROVE)
        assert approve["value"] == request_id
        assert slack.click(BOB, APPROVE, request_id, "C0SHOP", posted.answer["ts"]).status == 200
        fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and "succeeded" in c.body.get("text", "")
                                              for c in calls), what="the message updated with the result")

        got = (await mcp.call_tool("get_request", {"request_id": request_id})).structured_content
    assert got["state"] == "succeeded" and got["approvals"][0]["approver"] == "U02BOB"
    for host in got["hosts"]:
        before = {(w["pid"], w["started_at"]) for w in host["workers_before"]}  # PIDs are reused: with start times
        assert host["pids_after"] and not before & {(w["pid"], w["started_at"]) for w in host["workers_after"]}


@pytest.mark.anyio
async def test_on_serve_mcp_without_a_token_gets_401(serve):
    async with httpx2.AsyncClient() as http:
        answer = await http.post(f"{serve}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                 headers={"Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401
