"""Nothing silent: when Slack refuses the request's channel message (the bot is not in the channel,
the channel is gone or archived, as chat.postMessage documents), the asker hears it through
respond() with how to fix it; the slash command's ack says something at once; malformed requests
and clicks that name the wrong request are answered and change nothing."""

from __future__ import annotations

from slack_http import ALICE, BOB, post
from slack_messages import approval_message, buttons, reply_saying, worker_kills

from bot.slack.blocks import APPROVE


def test_the_ack_says_at_once_what_is_being_planned(start_bot, fake_slack):
    bot = start_bot()
    ack = bot.slack.command(ALICE, "shop-web --reason hung")
    assert ack.status == 200 and ack.body.decode() == "Planning shop-web…"  # Slack shows it to the asker
    approval_message(fake_slack)


def test_a_waiting_request_tells_the_asker_where_its_message_is_with_a_permalink(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    reply = reply_saying(fake_slack, "waiting for approval from <@U02BOB>")
    assert reply.body["response_type"] == "ephemeral"
    assert f"/archives/C0SHOP/p{posted.answer['ts'].replace('.', '')}|its message>" in reply.text_everywhere


def test_approval_message_refused_not_in_channel_tells_the_asker_nobody_was_asked(start_bot, fake_slack, farm):
    fake_slack.channel_state("C0SHOP", "not_in_channel")
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    reply = reply_saying(fake_slack, "not_in_channel")
    seen = reply.text_everywhere
    assert "/invite @aspreset" in seen and "Nobody was asked to approve it" in seen
    assert reply.body["response_type"] == "ephemeral"
    assert fake_slack.of("chat.postMessage") == [] and worker_kills(farm) == 0
    assert len(fake_slack.refused("chat.postMessage")) == 1  # not tried again on every event


def test_an_allowed_restart_whose_message_is_refused_still_reports_its_result_to_the_asker(
        start_bot, fake_slack, farm):
    fake_slack.channel_state("C0SHOP", "is_archived")
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --changed App_Config/connectionStrings.config")
    warning = reply_saying(fake_slack, "is_archived")
    assert "unarchive" in warning.text_everywhere
    result = reply_saying(fake_slack, "succeeded")
    assert result.body["response_type"] == "ephemeral"
    assert fake_slack.of("chat.postMessage") == []


def test_a_refused_site_channel_falls_back_to_the_channel_it_was_asked_in(start_bot, fake_slack):
    fake_slack.channel_state("C0SHOP", "channel_not_found")
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung", channel="C0OPS")
    posted = approval_message(fake_slack)
    assert posted.body["channel"] == "C0OPS"
    reply = reply_saying(fake_slack, "instead of the site's channel")
    assert "channel_not_found" in reply.text_everywhere and "|its message>" in reply.text_everywhere


def test_a_request_timestamp_that_is_not_a_number_is_refused_with_401(start_bot):
    bot = start_bot()
    body = bot.slack.command_body(ALICE, "help")
    headers = bot.slack.headers(body)
    headers["X-Slack-Request-Timestamp"] = "yesterday"
    answer = post(bot.slack.url, body, headers)
    assert answer.status == 401


def test_a_click_naming_no_known_request_is_told_to_the_clicker_and_changes_nothing(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    assert bot.slack.click(BOB, APPROVE, "r-nosuch", "C0SHOP", posted.answer["ts"]).status == 200
    reply = reply_saying(fake_slack, "There is no request `r-nosuch`")
    assert reply.body["response_type"] == "ephemeral" and reply.body.get("replace_original") is False
    assert fake_slack.of("chat.update") == []


def test_a_click_on_another_requests_message_changes_no_message(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    first = approval_message(fake_slack)
    first_id = buttons(first)[0]["value"]
    bot.slack.command(ALICE, "intranet --reason hung", channel="C0INTRA")
    second = approval_message(fake_slack, "intranet")
    second_id = buttons(second)[0]["value"]
    # a click carrying the second request's id from the first request's message
    bot.slack.click(BOB, APPROVE, second_id, "C0SHOP", first.answer["ts"], block_id=f"approval:{first_id}")
    reply_saying(fake_slack, f"not on `{second_id}`'s message")
    assert fake_slack.of("chat.update") == [] and worker_kills(farm) == 0
    assert bot.service.store.get(second_id).state.value == "awaiting_approval"
