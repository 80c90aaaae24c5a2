"""POST /hooks/deploy over real HTTP: a signed notice posts what changed and what follows to the
site's channel; every bad request is a 4xx JSON error naming which check failed, with nothing
posted or run."""

from __future__ import annotations

import json
import time

import pytest
from slack_http import WEBHOOK_SECRET, deploy_hook

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
    [actions] = [b for b in posted.blocks if b["type"] == "actions"]
    [run] = actions["elements"]
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
