"""What a deploy team expects beside the request itself: a failed run's message offers to retry the
failed host under the same policy and to show the hosts' status; the App Home tab lists what waits on
me and my own requests; replies suggest chat commands, not the CLI."""

from __future__ import annotations

from slack_http import ALICE, BOB
from slack_messages import approval_message, buttons, reply_saying

from bot.slack.blocks import RETRY, STATUS


def _failed_message(fake_slack):
    return fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and "failed" in c.body.get("text", "")
                            and buttons(c)), None), what="the failed run's message with its buttons")


def test_a_failed_run_offers_a_retry_of_the_failed_host_and_the_status(start_bot, fake_slack, farm):
    bot = start_bot()
    farm.host("web02").inject_unauthorized()
    bot.slack.command(ALICE, "shop-web --scope apppool")
    failed = _failed_message(fake_slack)
    assert [b["action_id"] for b in buttons(failed)] == [RETRY, STATUS]
    assert "aspreset status" not in failed.text_everywhere and "/recycle status shop-web" in failed.text_everywhere
    farm.host("web02").clear_faults()

    [retry, status] = buttons(failed)
    bot.slack.click(ALICE, STATUS, status["value"], "C0SHOP", failed.body["ts"])
    assert reply_saying(fake_slack, "(read-only)").body["response_type"] == "ephemeral"

    bot.slack.click(ALICE, RETRY, retry["value"], "C0SHOP", failed.body["ts"])
    again = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method in ("chat.postMessage", "chat.update")
                            and " is succeeded" in c.body.get("text", "")
                            and retry["value"] not in c.body.get("text", "")), None),
        what="the retry of web02")
    assert "web02 PIDs" in again.body["text"] and "web01" not in again.body["text"]  # the failed host alone
    requests = bot.service.store.list()
    assert len(requests) == 2 and {r.requester for r in requests} == {ALICE}


def test_the_home_tab_shows_what_waits_on_me(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    request_id = buttons(approval_message(fake_slack))[0]["value"]
    assert bot.slack.event({"type": "app_home_opened", "user": BOB, "channel": "D0BOB", "tab": "home"}).status == 200
    home = fake_slack.wait_for(lambda calls: fake_slack.homes.get(BOB), what="bob's Home tab")
    assert home["type"] == "home" and request_id in str(home["blocks"]) and "Waiting on you" in str(home["blocks"])


def test_an_approver_not_in_the_channel_gets_a_dm_with_a_link_to_the_request(start_bot, fake_slack):
    fake_slack.channel_members["C0SHOP"] = [ALICE, "U0BOT"]  # bob, the approver, is not in #shop
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    dm = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                                 and c.body.get("channel") == f"D{BOB}"), None), what="bob's DM")
    assert buttons(posted)[0]["value"] in dm.body["text"] and "<@U01ALICE>" in dm.body["text"]
    assert f"/archives/C0SHOP/p{posted.answer['ts'].replace('.', '')}|open the request>" in dm.body["text"]
    assert [c.body["users"] for c in fake_slack.of("conversations.open")] == [BOB]


def test_without_the_membership_scope_nobody_is_dmed_and_the_request_still_waits(start_bot, fake_slack):
    bot = start_bot()  # channel_members unset: conversations.members answers missing_scope
    bot.slack.command(ALICE, "shop-web --reason hung")
    approval_message(fake_slack)
    fake_slack.wait_for(lambda calls: fake_slack.refused("conversations.members"), what="the membership lookup")
    assert fake_slack.of("conversations.open") == []
