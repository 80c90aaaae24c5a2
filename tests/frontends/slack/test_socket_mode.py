"""Socket Mode, as far as slack-sdk's built-in client goes against a local fake: the bot opens the
connection (apps.connections.open with the app token, then a WebSocket to the fake), acks a slash
command envelope at once, and the work after the ack posts and updates the request's message."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_socket_mode import FakeSocketMode
from slack_http import ALICE, BOB
from slack_messages import approval_message, buttons

from bot.config import Settings, SlackSettings, WinRMSettings
from bot.sim.cli import inventory_toml
from bot.slack.serving import build_serving
from bot.winrm.executor import WinRMExecutor
from policies.files import load_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def socket_fake(fake_slack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode()
    fake_slack.socket_mode_url = fake.url
    yield fake
    fake.close()



@pytest.mark.parametrize("apart", [False, True], ids=["in-process", "slack-work-process"])
def test_a_slash_command_over_socket_mode_is_acked_and_runs(fake_slack, socket_fake, farm, tmp_path, monkeypatch,
                                                           apart):
    """`apart`: as `aspreset serve` runs it, the work after each ack in its Slack work process (a real
    `aspreset serve --slack-work` with the same files), the events still taken and acked here."""
    slack = SlackSettings(bot_token=fake_slack.token, app_token="xapp-test-token", api_base_url=fake_slack.base_url)
    db_url = f"sqlite:///{tmp_path / 'aspreset.db'}"
    settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), farm.client_inventory(), workdir=tmp_path,
                           db_url=db_url, winrm=WinRMSettings(command_timeout_s=20), owner="socket", slack=slack)
    work = None
    if apart:
        inventory = tmp_path / "farm.toml"
        inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
        for name, value in {"SLACK_BOT_TOKEN": fake_slack.token, "SLACK_API_BASE_URL": fake_slack.base_url}.items():
            monkeypatch.setenv(name, value)  # the work process's environment is serve's
        monkeypatch.delenv("ASPRESET_CONFIG", raising=False)
        work = [sys.executable, "-m", "bot.cli", "serve", "--slack-work", "--policy", str(EXAMPLES / "policy.toml"),
                "--inventory", str(inventory), "--db", db_url]
    serving = build_serving(settings, socket_mode=True, executor=WinRMExecutor(max_parallel=4), slack_work=work)
    try:
        assert serving.socket_mode is not None
        serving.socket_mode.connect()
        socket_fake.wait_connected()
        opened = fake_slack.of("apps.connections.open")
        assert opened and opened[0].token == "xapp-test-token"

        common = {"team_id": "T0FAKE", "channel_id": "C0SHOP", "command": "/recycle", "api_app_id": "A0ASPRESET",
                  "response_url": fake_slack.response_url("socket")}
        envelope = socket_fake.send("slash_commands", {**common, "user_id": ALICE, "text": "shop-web --reason hung",
                                                       "trigger_id": "t.1"})
        assert socket_fake.wait_ack(envelope)["envelope_id"] == envelope
        posted = approval_message(fake_slack)
        request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]

        click = {"type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": BOB}, "api_app_id": "A0ASPRESET",
                 "container": {"type": "message", "message_ts": ts, "channel_id": "C0SHOP"},
                 "channel": {"id": "C0SHOP"}, "message": {"ts": ts}, "response_url": common["response_url"],
                 "trigger_id": "t.2", "actions": [{"action_id": buttons(posted)[0]["action_id"], "value": request_id,
                                                   "type": "button", "block_id": "b", "action_ts": "1"}]}
        socket_fake.wait_ack(socket_fake.send("interactive", click))
        fake_slack.wait_for(
            lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                              and "succeeded" in c.body.get("text", "") for c in calls),
            what="the result over Socket Mode")
        assert (serving.slack_work is not None) == apart
    finally:
        serving.close()
