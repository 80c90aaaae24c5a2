"""A running `serve` reads its policy and inventory files again when they change, whichever front
end the next request comes through: a freeze added to the policy refuses the next slash command
and the next Approve click, a site's new channel gets its next request's message, and a file
broken meanwhile fails the slash command and the deploy webhook closed, naming the file and line,
until it is fixed. No MCP call is involved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_slack import FakeSlack
from slack_http import ALICE, BOB, SIGNING_SECRET, WEBHOOK_SECRET, SlackSender, deploy_hook
from slack_messages import approval_message, buttons, reply_saying, worker_kills

from bot.config import Settings, SlackSettings, WinRMSettings
from bot.http.loopback import serve_on_loopback
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.slack.blocks import APPROVE
from bot.slack.serving import build_serving
from bot.winrm.executor import WinRMExecutor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FREEZE = """
[[freezes]]
name = "all week"
environments = ["*"]
start = "00:00"
end = "23:59"
timezone = "UTC"
"""
BROKEN = '\n[[rules]]\nname = "x"\neffect = "alow"\n'
DEPLOY = {"site": "shop-web", "version": "2.4.1", "environment": "prod",
          "changed_files": ["App_Config/connectionStrings.config"]}


class Files:
    def __init__(self, policy: Path, inventory: Path, url: str, slack: SlackSender) -> None:
        self.policy, self.inventory, self.url, self.slack = policy, inventory, url, slack
        self.original = policy.read_text()

    def add_to_policy(self, text: str) -> None:
        self.policy.write_text(self.original + text)


@pytest.fixture
def bot_on_files(fake_slack: FakeSlack, farm: Farm, tmp_path: Path) -> Iterator[Files]:
    """`serve` on a policy file and an inventory file, as `aspreset serve --policy --inventory` runs."""
    policy = tmp_path / "policy.toml"
    policy.write_text((EXAMPLES / "policy.toml").read_text())
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()))
    slack = SlackSettings(bot_token=fake_slack.token, signing_secret=SIGNING_SECRET,
                          webhook_secret=WEBHOOK_SECRET, api_base_url=fake_slack.base_url)
    settings = Settings(policy_path=policy, inventory_path=inventory, db_url=f"sqlite:///{tmp_path / 'a.db'}",
                        cli_user=None, winrm=WinRMSettings(command_timeout_s=20), workdir=tmp_path,
                        owner="replica-a", slack=slack)
    serving = build_serving(settings, executor=WinRMExecutor(max_parallel=4))
    try:
        with serve_on_loopback(serving.asgi) as url:
            yield Files(policy, inventory, url, SlackSender(url, SIGNING_SECRET, fake_slack.response_url("replica-a")))
    finally:
        serving.close()


def test_a_freeze_added_to_the_policy_file_refuses_the_next_slash_command(bot_on_files, fake_slack, farm):
    bot_on_files.add_to_policy(FREEZE)

    assert bot_on_files.slack.command(ALICE, "shop-web --scope apppool").status == 200

    refused = reply_saying(fake_slack, "all week")
    assert "freeze" in refused.text_everywhere.lower()
    assert all(sim.received == [] for sim in farm.hosts.values())


def test_a_freeze_added_while_a_kill_waits_refuses_the_approve_click(bot_on_files, fake_slack, farm):
    assert bot_on_files.slack.command(ALICE, "shop-web --reason hung").status == 200
    posted = approval_message(fake_slack)
    request_id = buttons(posted)[0]["value"]
    bot_on_files.add_to_policy(FREEZE)

    assert bot_on_files.slack.click(BOB, APPROVE, request_id, "C0SHOP", posted.answer["ts"]).status == 200

    refused = reply_saying(fake_slack, "cannot run now")
    assert "all week" in refused.text_everywhere
    assert worker_kills(farm) == 0


def test_a_broken_policy_file_fails_the_slash_command_closed_with_its_file_and_line(bot_on_files, fake_slack, farm):
    bot_on_files.add_to_policy(BROKEN)

    assert bot_on_files.slack.command(ALICE, "shop-web --scope apppool").status == 200

    failed = reply_saying(fake_slack, "policy.toml")
    assert "line " in failed.text_everywhere and "effect" in failed.text_everywhere
    assert all(sim.received == [] for sim in farm.hosts.values())


def test_a_broken_policy_file_fails_the_deploy_webhook_closed_until_it_is_fixed(bot_on_files, fake_slack):
    bot_on_files.add_to_policy(BROKEN)

    broken = deploy_hook(bot_on_files.url, WEBHOOK_SECRET, DEPLOY)
    assert broken.status == 503 and broken.json()["error"] == "bad_configuration"
    assert "policy.toml" in broken.json()["message"] and "line " in broken.json()["message"]
    assert fake_slack.of("chat.postMessage") == []

    bot_on_files.add_to_policy("")  # fixed: the file as it was
    assert deploy_hook(bot_on_files.url, WEBHOOK_SECRET, dict(DEPLOY, version="2.4.2")).status == 200
    assert len(fake_slack.of("chat.postMessage")) == 1


def test_a_sites_channel_changed_in_the_inventory_file_gets_its_next_requests_message(bot_on_files, fake_slack):
    bot_on_files.inventory.write_text(bot_on_files.inventory.read_text().replace('"C0SHOP"', '"C0MOVED"'))

    assert bot_on_files.slack.command(ALICE, "shop-web --reason hung", channel="C0MOVED").status == 200

    assert approval_message(fake_slack).body["channel"] == "C0MOVED"
