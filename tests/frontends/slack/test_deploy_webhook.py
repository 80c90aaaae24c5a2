"""POST /hooks/deploy over real HTTP: a signed notice posts what changed and what follows to the
site's channel; every bad request is a 4xx JSON error naming which check failed, with nothing
posted or run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from slack_http import ALICE, CAROL, WEBHOOK_SECRET, deploy_hook
from slack_messages import buttons

CONFIG_ONLY = {"site": "shop-web", "version": "2.4.1", "environment": "prod",
               "changed_files": ["App_Config/connectionStrings.config"],
               "pipeline_url": "https://ci.example/run/81", "deployed_by": "azure-devops"}


def test_a_config_only_deploy_offers_the_appdomain_restart_in_the_sites_channel(start_bot, fake_slack):
    bot = start_bot()
    reply = deploy_hook(bot.url, WEBHOOK_SECRET, CONFIG_ONLY)
    assert reply.status == 200, reply.body
    assert reply.json()["rung"] == "appdomain" and reply.json()["restarted_by_itself"] is False
    [posted] = fake_slack.of("chat.postMessage")
    assert posted.body["channel"] == "C0SHOP"
    seen = posted.text_everywhere
    assert "App_Config/connectionStrings.config" in seen and "Still needed: appdomain" in seen
    [run] = buttons(posted)
    assert run["text"]["text"] == "Restart the AppDomain"
    assert json.loads(run["value"])["changed"] == ["App_Config/connectionStrings.config"]


def test_a_bin_deploy_says_aspnet_restarted_the_app_by_itself(start_bot, fake_slack):
    bot = start_bot()
    notice = dict(CONFIG_ONLY, changed_files=["bin/Shop.Web.dll", "web.config"])
    reply = deploy_hook(bot.url, WEBHOOK_SECRET, notice)
    assert reply.status == 200 and reply.json()["restarted_by_itself"] is True
    [posted] = fake_slack.of("chat.postMessage")
    assert "ASP.NET restarted the app by itself" in posted.text_everywhere
    assert "Warm up and verify" in posted.text_everywhere


BAD = [
    ("bad_signature", 401, {"signature": "sha256=" + "0" * 64}, CONFIG_ONLY),
    ("stale_timestamp", 401, {"timestamp": int(time.time()) - 301}, CONFIG_ONLY),
    ("unknown_site", 404, {}, dict(CONFIG_ONLY, site="shop-wbe")),
    ("wrong_environment", 422, {}, dict(CONFIG_ONLY, environment="staging")),
    ("malformed_body", 400, {}, b"{not json"),
    ("malformed_body", 400, {}, {"site": "shop-web", "version": "1"}),
    ("malformed_body", 400, {}, dict(CONFIG_ONLY, changed_files="App_Config/x.config")),
    ("no_channel", 422, {}, dict(CONFIG_ONLY, site="intranet", environment=None)),
]


@pytest.mark.parametrize(("code", "status", "signing", "notice"), BAD,
                         ids=[f"{c}-{i}" for i, (c, *_) in enumerate(BAD)])
def test_a_bad_webhook_is_a_4xx_json_error_that_says_which_and_nothing_is_posted(
    start_bot, fake_slack, farm, code, status, signing, notice
):
    bot = start_bot()
    reply = deploy_hook(bot.url, WEBHOOK_SECRET, notice, **signing)
    assert reply.status == status
    assert reply.json()["error"] == code and reply.json()["message"]
    assert fake_slack.of("chat.postMessage") == []
    assert bot.service.store.list() == []
    assert all(sim.actions == [] for sim in farm.hosts.values())


def test_the_same_signed_request_sent_twice_posts_once(start_bot, fake_slack):
    bot = start_bot()
    body = json.dumps(CONFIG_ONLY).encode()
    stamp = int(time.time())
    assert deploy_hook(bot.url, WEBHOOK_SECRET, body, timestamp=stamp).status == 200
    again = deploy_hook(bot.url, WEBHOOK_SECRET, body, timestamp=stamp)
    assert again.status == 409 and again.json()["error"] == "replayed"
    assert len(fake_slack.of("chat.postMessage")) == 1


def test_a_webhook_signed_with_another_secret_is_refused(start_bot, fake_slack):
    bot = start_bot()
    reply = deploy_hook(bot.url, "not-the-secret", CONFIG_ONLY)
    assert reply.status == 401 and reply.json()["error"] == "bad_signature"
    assert fake_slack.of("chat.postMessage") == []


def test_without_a_webhook_secret_the_hook_is_off_and_says_how_to_turn_it_on(start_bot, fake_slack):
    bot = start_bot(webhook_secret=None)
    reply = deploy_hook(bot.url, WEBHOOK_SECRET, CONFIG_ONLY)
    assert reply.status == 503 and "ASPRESET_WEBHOOK_SECRET" in reply.json()["message"]
    assert fake_slack.of("chat.postMessage") == []


def test_the_deploy_notices_button_runs_the_appdomain_restart_under_the_same_policy_in_its_thread(
    start_bot, fake_slack, farm
):
    bot = start_bot()
    assert deploy_hook(bot.url, WEBHOOK_SECRET, CONFIG_ONLY).status == 200
    [notice] = fake_slack.of("chat.postMessage")
    [run] = buttons(notice)
    pids_before = farm.host("web01").pids("ShopPool")

    shown = {"text": notice.body["text"], "blocks": notice.blocks}
    assert bot.slack.click(ALICE, run["action_id"], run["value"], "C0SHOP", notice.answer["ts"],
                           message=shown).status == 200
    retired = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == notice.answer["ts"]),
                           None), what="the notice updated: who used its button")
    assert "<@U01ALICE> used the button" in retired.text_everywhere and not buttons(retired)
    assert "same policy as" not in retired.text_everywhere  # the line about the button went with it
    done = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                            and "appdomain restart" in c.body.get("text", "")
                            and "succeeded" in c.body.get("text", "")), None),
        what="the appdomain restart's result")
    [request] = bot.service.store.list()
    assert request.requester == ALICE and request.rung.value == "appdomain"
    assert request.plan["changed"] == ["App_Config/connectionStrings.config"]
    assert farm.host("web01").pids("ShopPool") == pids_before  # an AppDomain restart keeps the worker
    first = next(c for c in fake_slack.of("chat.postMessage") if c.answer["ts"] != notice.answer["ts"])
    assert first.body.get("thread_ts") == notice.answer["ts"]  # the restart lives in the notice's thread
    assert "PIDs" in done.text_everywhere


def test_the_deploy_button_is_refused_to_someone_the_policy_does_not_allow(start_bot, fake_slack, farm):
    bot = start_bot()
    deploy_hook(bot.url, WEBHOOK_SECRET, CONFIG_ONLY)
    [notice] = fake_slack.of("chat.postMessage")
    [run] = buttons(notice)
    bot.slack.click(CAROL, run["action_id"], run["value"], "C0SHOP", notice.answer["ts"])
    reply = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "respond"), None),
                                what="the refusal")
    assert reply.body["response_type"] == "ephemeral" and "refused" in reply.text_everywhere
    assert all(sim.received == [] for sim in farm.hosts.values())


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_documented_curl_line_is_accepted(start_bot, fake_slack):
    bot = start_bot()
    doc = (Path(__file__).resolve().parents[3] / "docs" / "slack-setup.md").read_text(encoding="utf-8")
    lines = [line for line in doc.splitlines() if line.startswith(("body='", "ts=$(date +%s)"))]
    assert len(lines) == 2, "docs/slack-setup.md lost its bash example"
    script = "\n".join(lines).replace("https://aspreset.example.com", bot.url)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "ASPRESET_WEBHOOK_SECRET": WEBHOOK_SECRET})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rung"] == "appdomain"
    assert len(fake_slack.of("chat.postMessage")) == 1


def test_after_a_bin_deploy_the_button_warms_up_and_verifies_with_the_worker_pids(start_bot, fake_slack, farm):
    bot = start_bot()
    deploy_hook(bot.url, WEBHOOK_SECRET, dict(CONFIG_ONLY, changed_files=["bin/Shop.Web.dll"]))
    [notice] = fake_slack.of("chat.postMessage")
    [run] = buttons(notice)
    pids = farm.host("web01").pids("ShopPool")
    bot.slack.click(ALICE, run["action_id"], run["value"], "C0SHOP", notice.answer["ts"])
    done = fake_slack.wait_for(
        lambda calls: next((c for c in calls if "none restart" in c.body.get("text", "")
                            and "succeeded" in c.body.get("text", "")), None),
        what="the warm-up and verification")
    assert f"web01 PIDs {', '.join(map(str, pids))} -> {', '.join(map(str, pids))}" in done.body["text"]
    assert "warm-up 200" in done.text_everywhere
