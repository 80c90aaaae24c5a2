"""Slack's requests are verified before anything else: a bad signature or a timestamp older than
five minutes is a 401 and nothing is recorded, run or posted."""

from __future__ import annotations

import time

from slack_http import ALICE, BOB, get, post


def _nothing_done(bot, fake_slack, farm) -> None:
    assert bot.service.store.list() == []
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []
    assert all(sim.actions == [] for sim in farm.hosts.values())


def test_a_slash_command_with_a_bad_signature_is_401_and_nothing_is_done(start_bot, fake_slack, farm):
    bot = start_bot()
    reply = bot.slack.command(ALICE, "shop-web --reason hung", signature="v0=" + "0" * 64)
    assert reply.status == 401
    _nothing_done(bot, fake_slack, farm)


def test_a_slash_command_with_a_stale_timestamp_is_401_and_nothing_is_done(start_bot, fake_slack, farm):
    bot = start_bot()
    reply = bot.slack.command(ALICE, "shop-web --scope apppool", timestamp=int(time.time()) - 6 * 60)
    assert reply.status == 401
    _nothing_done(bot, fake_slack, farm)


def test_a_click_with_a_bad_signature_is_401_and_approves_nothing(start_bot, fake_slack, farm):
    bot = start_bot()
    reply = bot.slack.click(BOB, "aspreset.approve", "r-abc123", "C0SHOP", "1700000000.000001",
                            signature="v0=" + "1" * 64)
    assert reply.status == 401
    _nothing_done(bot, fake_slack, farm)


def test_healthz_answers_without_a_signature(start_bot):
    bot = start_bot()
    assert get(f"{bot.url}/healthz").json() == {"ok": True, "slack": True, "webhook": True, "mcp": False}


def test_a_signed_request_that_asks_for_a_lazy_function_alone_is_acked_as_any_other(start_bot, fake_slack):
    """Bolt runs a request carrying `x-slack-bolt-lazy-only` as its lazy function alone, skipping the
    ack: serve's own hand-over to its Slack work process. The signature does not cover headers, so
    one from outside is acked as usual (its work done once, after the ack)."""
    bot = start_bot()
    body = bot.slack.command_body(ALICE, "status shop-web")
    headers = {**bot.slack.headers(body), "X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "run"}
    reply = post(bot.slack.url, body, headers)
    assert reply.status == 200 and "Looking at shop-web" in reply.body.decode()
    fake_slack.wait_for(lambda calls: any(c.method == "respond" and "web01" in c.text_everywhere for c in calls),
                        what="the status reply")
