"""The whole Slack story over real HTTP: a signed `/recycle shop-web --reason hung` from alice posts
an approval message with buttons naming bob and the expiry; alice's own click is refused to her
alone; bob's click runs the kill on the simulated farm and the one message ends up holding the
simulator's real PIDs before and after; a second click runs nothing and says so."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from slack_http import ALICE, BOB, CAROL, post
from slack_messages import approval_message, buttons, reply_saying, worker_kills

from bot.slack.blocks import APPROVE, CANCEL, DENY

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_a_hung_site_is_approved_by_bob_and_the_message_ends_with_the_real_pids(start_bot, fake_slack, farm):
    bot = start_bot()
    before = {name: farm.host(name).pids("ShopPool") for name in ("web01", "web02")}
    processes = {name: farm.host(name).processes("ShopPool") for name in ("web01", "web02")}

    ack = bot.slack.command(ALICE, "shop-web --reason hung")
    assert ack.status == 200 and ack.seconds < 3

    posted = approval_message(fake_slack)
    assert posted.body["channel"] == "C0SHOP"
    seen = posted.text_everywhere
    assert "<@U02BOB>" in seen and "expires" in seen and "worker" in seen and "<@U01ALICE>" in seen
    assert [e["action_id"] for e in buttons(posted)] == [APPROVE, DENY, CANCEL]
    request_id = buttons(posted)[0]["value"]
    ts = posted.answer["ts"]

    assert bot.slack.click(ALICE, APPROVE, request_id, "C0SHOP", ts).status == 200
    refused = reply_saying(fake_slack, "second person")
    assert refused.body["response_type"] == "ephemeral" and refused.body.get("replace_original") is False
    assert worker_kills(farm) == 0

    assert bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
    final = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                            and "succeeded" in c.body.get("text", "")), None),
        what="the message updated with the result")
    after = {name: farm.host(name).pids("ShopPool") for name in ("web01", "web02")}
    for name in ("web01", "web02"):
        # A process is (PID, start time): the farm reuses PIDs as Windows does.
        assert farm.host(name).processes("ShopPool").isdisjoint(processes[name]), "the kill started new workers"
        assert f"PIDs {', '.join(map(str, before[name]))} → {', '.join(map(str, after[name]))}" in final.text_everywhere
    assert "Approved by <@U02BOB>" in final.text_everywhere
    assert worker_kills(farm) == 2  # one per host
    follow_up = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.postMessage" and c.body.get("thread_ts") == ts),
                           None),
        what="the follow-up in the thread")
    assert "<@U01ALICE>" in follow_up.body["text"] and "succeeded" in follow_up.body["text"]
    assert len(fake_slack.of("chat.postMessage")) == 2  # the one message, and one follow-up in its thread

    assert bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
    again = reply_saying(fake_slack, "already handled")
    assert again.body["response_type"] == "ephemeral"
    assert worker_kills(farm) == 2


def test_deny_asks_the_approver_why_and_the_requester_sees_the_reason(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(BOB, DENY, request_id, "C0SHOP", ts)
    [modal] = fake_slack.views
    assert modal["callback_id"] == "aspreset.deny_modal" and request_id in json.dumps(modal)
    assert bot.service.store.get(request_id).state.value == "awaiting_approval"  # nothing yet

    answer = bot.slack.submit(BOB, modal, {"reason": {"reason_input": {"type": "plain_text_input",
                                                                        "value": "db migration <!channel>"}}})
    assert answer.status == 200
    updated = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.update"
                                                      and "denied" in c.body.get("text", "")), None),
                                  what="the message saying denied")
    assert "Denied: db migration &lt;!channel&gt;" in updated.text_everywhere
    told = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                                   and c.body.get("thread_ts") == ts), None), what="the thread")
    assert "<@U01ALICE>" in told.body["text"] and "db migration" in told.body["text"]
    assert worker_kills(farm) == 0
    assert bot.service.store.get(request_id).state.value == "denied"


def test_a_deny_reason_on_two_lines_is_refused_in_the_modal_and_nothing_changes(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(BOB, DENY, request_id, "C0SHOP", ts)
    answer = bot.slack.submit(BOB, fake_slack.views[0], {"reason": {"reason_input": {"value": "no\n<!here> now"}}})
    assert answer.json()["response_action"] == "errors" and "newline" in answer.json()["errors"]["reason"]
    assert bot.service.store.get(request_id).state.value == "awaiting_approval"


def test_only_the_requester_can_cancel_a_waiting_request(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(CAROL, CANCEL, request_id, "C0SHOP", ts)
    refused = reply_saying(fake_slack, "cancel")
    assert refused.body["response_type"] == "ephemeral"
    assert bot.service.store.get(request_id).state.value == "awaiting_approval"
    bot.slack.click(ALICE, CANCEL, request_id, "C0SHOP", ts)
    fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and "cancelled" in c.body.get("text", "")
                                          for c in calls), what="the message saying cancelled")
    assert bot.service.store.get(request_id).state.value == "cancelled" and worker_kills(farm) == 0


def test_an_unexpected_error_after_the_ack_is_one_sentence_with_an_incident_id(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    payload = json.loads(parse_qs(bot.slack.click_body(BOB, APPROVE, buttons(posted)[0]["value"], "C0SHOP",
                                                       posted.answer["ts"]).decode())["payload"][0])
    payload["user"] = {"team_id": "T0FAKE"}  # a payload this edge does not expect: no user id
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert post(bot.slack.url, body, bot.slack.headers(body)).status == 200
    reply = reply_saying(fake_slack, "incident")
    assert reply.body["response_type"] == "ephemeral" and "Traceback" not in reply.text_everywhere


def test_someone_who_is_not_an_approver_is_told_so_alone(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(CAROL, APPROVE, request_id, "C0SHOP", ts)
    reply = reply_saying(fake_slack, "not among the approvers")
    assert reply.body["response_type"] == "ephemeral"
    assert worker_kills(farm) == 0


def test_an_allowed_restart_runs_at_once_and_updates_its_one_message(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --changed App_Config/connectionStrings.config")
    final = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method in ("chat.update", "chat.postMessage")
                            and "appdomain" in c.body.get("text", "") and "succeeded" in c.body.get("text", "")), None),
        what="the appdomain restart's result")
    assert "PIDs" in final.text_everywhere
    channel_messages = [c for c in fake_slack.of("chat.postMessage") if not c.body.get("thread_ts")]
    assert len(channel_messages) == 1


def test_iisreset_is_refused_to_the_asker_alone_with_the_narrow_alternative(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "iisreset /noforce")
    reply = reply_saying(fake_slack, "IISRESET")
    assert reply.body["response_type"] == "ephemeral" and "/recycle SITE" in reply.text_everywhere
    assert fake_slack.of("chat.postMessage") == [] and all(s.received == [] for s in farm.hosts.values())


def test_a_plan_goes_to_the_asker_and_runs_nothing(start_bot, fake_slack, farm):
    bot = start_bot()
    bot.slack.command(ALICE, "plan shop-web --reason hung")
    reply = reply_saying(fake_slack, "Plan for shop-web")
    assert "worker" in reply.text_everywhere and "needs approval" in reply.text_everywhere
    assert fake_slack.of("chat.postMessage") == [] and bot.service.store.list() == []


def test_help_shows_only_what_that_person_may_do(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(CAROL, "help")
    carol = reply_saying(fake_slack, "You may not restart anything")
    assert "approve ID" not in carol.text_everywhere
    bot.slack.command(BOB, "help")
    bob = reply_saying(fake_slack, "You may restart")
    assert "approve ID" in bob.text_everywhere and "shop-web" in bob.text_everywhere


def test_a_typo_is_answered_ephemerally_with_what_would_be_right(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-wbe --reason hung")
    reply = reply_saying(fake_slack, "shop-web")
    assert reply.body["response_type"] == "ephemeral"
    assert fake_slack.of("chat.postMessage") == []


def test_an_approver_named_by_slack_user_group_may_approve(start_bot, fake_slack, farm, tmp_path):
    policy = tmp_path / "policy.toml"
    text = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")
    policy.write_text(text.replace('approvers = ["leads"]\napprovals = 1', 'approvers = ["S0LEADS"]\napprovals = 1'),
                      encoding="utf-8")
    fake_slack.user_groups = {"S0LEADS": [BOB], "S0OTHER": [CAROL]}
    bot = start_bot(policy=policy)
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    assert "<!subteam^S0LEADS>" in posted.text_everywhere
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    bot.slack.click(CAROL, APPROVE, request_id, "C0SHOP", ts)
    reply_saying(fake_slack, "not among the approvers")
    bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts)
    fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and "succeeded" in c.body.get("text", "")
                                          for c in calls), what="the run approved by the group member")
    assert worker_kills(farm) == 2


def test_requests_lists_what_waits_on_me_and_my_own(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    request_id = buttons(approval_message(fake_slack))[0]["value"]
    bot.slack.command(BOB, "requests")
    bob = reply_saying(fake_slack, "Waiting on you")
    waiting, yours = bob.text_everywhere.split("Yours, newest first")
    assert request_id in waiting and "<@U01ALICE>" in waiting and "none yet" in yours
    bot.slack.command(CAROL, "requests")
    carol = reply_saying(fake_slack, "Waiting on you:*\\nnothing")
    assert request_id not in carol.text_everywhere
