"""`aspreset serve` as an operator runs it, a process of its own: settings from the environment,
its WebClient pointed at the fake Slack (SLACK_API_BASE_URL), the simulated farm's inventory.
The done-when story: alice's signed `/recycle shop-web --reason hung`, the approval, alice's
click refused, bob's click runs it and the message holds the real PIDs; a config-only deploy
offers the appdomain restart; SIGTERM stops it cleanly, deleting the WinRM shells it kept on the hosts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from child_output import read_until
from slack_http import ALICE, BOB, SIGNING_SECRET, WEBHOOK_SECRET, SlackSender, deploy_hook, get
from slack_messages import approval_message, buttons, reply_saying

from bot.sim.cli import inventory_toml
from bot.slack.blocks import APPROVE

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_aspreset_serve_takes_a_signed_recycle_through_approval_to_the_real_pids(fake_slack, farm, tmp_path):
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url, ASPRESET_WEBHOOK_SECRET=WEBHOOK_SECRET)
    env.pop("ASPRESET_CONFIG", None)
    serve = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--policy", str(EXAMPLES / "policy.toml"),
         "--inventory", str(inventory), "--db", f"sqlite:///{tmp_path / 'aspreset.db'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(read_until(serve.stderr, rb"listening on 127\.0\.0\.1:(\d+) ").group(1))
        url = f"http://127.0.0.1:{port}"
        assert get(f"{url}/healthz").json()["ok"] is True
        slack = SlackSender(url, SIGNING_SECRET, fake_slack.response_url("serve"))
        before = farm.host("web01").pids("ShopPool")
        processes = farm.host("web01").processes("ShopPool")

        assert slack.command(ALICE, "shop-web --reason hung").status == 200
        posted = approval_message(fake_slack)
        assert "<@U02BOB>" in posted.text_everywhere and "expires" in posted.text_everywhere
        request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
        slack.click(ALICE, APPROVE, request_id, "C0SHOP", ts)
        assert reply_saying(fake_slack, "second person").body["response_type"] == "ephemeral"
        slack.click(BOB, APPROVE, request_id, "C0SHOP", ts)
        final = fake_slack.wait_for(
            lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                                and "succeeded" in c.body.get("text", "")), None), what="the result")
        after = farm.host("web01").pids("ShopPool")
        assert farm.host("web01").processes("ShopPool").isdisjoint(processes)  # (PID, start time): PIDs are reused
        assert f"PIDs {', '.join(map(str, before))} → {', '.join(map(str, after))}" in final.text_everywhere

        notice = {"site": "shop-web", "version": "2.4.2", "changed_files": ["App_Config/connectionStrings.config"]}
        reply = deploy_hook(url, WEBHOOK_SECRET, notice)
        assert reply.status == 200 and reply.json()["rung"] == "appdomain"
        assert any("Restart the AppDomain" in c.text_everywhere for c in fake_slack.of("chat.postMessage"))
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
        leftover = serve.stderr.read().decode(errors="replace") if serve.stderr else ""
        serve.stdout and serve.stdout.close()
        serve.stderr and serve.stderr.close()
    assert code == 0, leftover
    assert farm.host("web01").actions.count("Create") >= 1, "the restart ran in a shell"
    assert {name: host.open_shells for name, host in farm.hosts.items()} == dict.fromkeys(farm.hosts, 0)
    assert SIGNING_SECRET not in leftover and fake_slack.token not in leftover and WEBHOOK_SECRET not in leftover


def test_serve_without_a_policy_file_warns_loudly_that_the_built_in_policy_decides(fake_slack, farm, tmp_path):
    inventory = tmp_path / "farm.toml"
    inventory.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    env = dict(os.environ, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake_slack.base_url)
    env.pop("ASPRESET_CONFIG", None)
    serve = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--inventory", str(inventory),
         "--db", f"sqlite:///{tmp_path / 'aspreset.db'}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        warned = read_until(serve.stderr, rb"NO POLICY FILE[^\n]*")
        assert b"docs/policy.md" in warned.group(0)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        serve.stderr and serve.stderr.close()
