"""Replies name a channel the way people know it, never by a bare `<#C...>` id (which Slack shows as
"private channel" to whoever is not in it): `#shop-deploys` from conversations.info, asked once per
channel, or, when Slack cannot say (the channel is gone), the id as the inventory writes it, in
code, with how to fix the setting. Chat replies suggest chat commands, never the CLI's."""

from __future__ import annotations

import re

from slack_http import ALICE, BOB
from slack_messages import approval_message, reply_saying

BARE_CHANNEL = re.compile(r"<#C")


def test_a_refused_message_names_the_channel_by_its_name(start_bot, fake_slack):
    fake_slack.channel_state("C0SHOP", "not_in_channel")
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    seen = reply_saying(fake_slack, "not_in_channel").text_everywhere
    assert "the bot is not in #shop-deploys: `/invite @aspreset` there" in seen
    assert not BARE_CHANNEL.search(seen)


def test_a_channel_slack_does_not_know_is_named_by_the_id_the_inventory_gives(start_bot, fake_slack):
    fake_slack.channel_state("C0SHOP", "channel_not_found")
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung", channel="C0OPS")
    approval_message(fake_slack)  # it went to the channel it was asked in
    seen = reply_saying(fake_slack, "instead of the site's channel").text_everywhere
    assert "Slack refused the message in the channel `C0SHOP` (`channel_not_found`)" in seen
    assert "It went to the channel `C0OPS`" in seen and not BARE_CHANNEL.search(seen)


def test_the_site_list_and_an_approvers_dm_name_the_channel_asking_slack_once(start_bot, fake_slack):
    fake_slack.channel_members["C0SHOP"] = [ALICE, "U0BOT"]  # bob, the approver, is not in it
    bot = start_bot()
    bot.slack.command(ALICE, "sites")
    sites = reply_saying(fake_slack, "shop-web").text_everywhere
    assert "#shop-deploys" in sites and not BARE_CHANNEL.search(sites)

    bot.slack.command(ALICE, "shop-web --reason hung")
    dm = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                                 and c.body.get("channel") == f"D{BOB}"), None), what="bob's DM")
    assert "You are not in #shop-deploys" in dm.body["text"] and not BARE_CHANNEL.search(dm.body["text"])
    assert [c.body["channel"] for c in fake_slack.of("conversations.info")] == ["C0SHOP"]  # cached


def test_a_host_error_in_chat_suggests_no_cli_command(start_bot, fake_slack, farm):
    bot = start_bot()
    farm.host("web02").inject_unauthorized()
    bot.slack.command(ALICE, "shop-web --scope apppool")
    failed = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and "failed" in c.body.get("text", "")),
                           None), what="the failed run's message")
    assert "web02" in failed.text_everywhere and "aspreset " not in failed.text_everywhere
    bot.slack.command(ALICE, "status shop-web")
    status = reply_saying(fake_slack, "(read-only)").text_everywhere
    assert "whoever runs the bot can check how it reaches web02" in status and "aspreset " not in status
