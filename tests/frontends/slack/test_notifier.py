"""The request's one message: updated in place, never a flood; a 429 from Slack is honoured
(Retry-After) and the newest state still arrives; an expired request's buttons say so."""

from __future__ import annotations

from slack_http import ALICE, BOB
from slack_messages import approval_message, buttons, reply_saying, worker_kills

from bot.slack.blocks import APPROVE


def test_a_rate_limited_update_waits_for_retry_after_and_the_final_state_still_arrives(start_bot, fake_slack):
    bot = start_bot()
    fake_slack.rate_limit("chat.update", times=1, retry_after=1)
    bot.slack.command(ALICE, "shop-web --scope apppool")
    final = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and "succeeded" in c.body.get("text", "")),
                           None),
        what="the final update after the 429")
    [limited] = [c for c in fake_slack.calls if c.status == 429]
    assert final.at - limited.at >= 1.0, "the retry came before Retry-After had passed"
    assert len(fake_slack.of("chat.update")) <= 2  # started/finished collapse: no flood
    [message] = [c for c in fake_slack.of("chat.postMessage") if not c.body.get("thread_ts")]
    assert final.body["ts"] == message.answer["ts"]


def test_an_expired_requests_message_loses_its_buttons_and_a_late_click_runs_nothing(
    start_bot, fake_slack, farm, clock
):
    bot = start_bot(clock=clock)
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    clock.advance(minutes=16)  # the policy gives 15

    bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts)
    reply = reply_saying(fake_slack, "expired")
    assert reply.body["response_type"] == "ephemeral"
    updated = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts), None),
        what="the message updated to expired")
    assert "Expired" in updated.text_everywhere
    assert not any(b["type"] == "actions" for b in updated.blocks)
    assert worker_kills(farm) == 0


def test_stopping_the_bot_mid_restart_finishes_the_restart_and_its_message_first(start_bot, fake_slack, farm):
    bot = start_bot()
    for sim in farm.hosts.values():
        sim.inject_latency(0.2)  # a restart that takes a while
    bot.slack.command(ALICE, "shop-web --scope apppool")
    fake_slack.wait_for(lambda calls: any("is running" in c.body.get("text", "") for c in calls),
                        what="the restart running")

    bot.serving.close()  # what SIGTERM does once uvicorn stopped taking requests

    [request] = bot.service.store.list()
    assert request.state.value == "succeeded"
    last = max((c for c in fake_slack.of("chat.update") + fake_slack.of("chat.postMessage")
                if not c.body.get("thread_ts")), key=lambda c: c.at)
    assert "succeeded" in last.body["text"]
