"""Replies link to the request's message (its permalink from chat.getPermalink, asked once per
process and kept), never a bare channel id: the App Home tab and `/recycle requests` list each
request with a link; a request whose message was deleted, or that has none, says so; a 429 on
chat.getPermalink is waited out."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeWorld
from slack_http import ALICE, BOB, CAROL, WEBHOOK_SECRET, deploy_hook
from slack_messages import approval_message, buttons, reply_saying
from slack_sdk import WebClient

from bot.app.dispatch import handle_text
from bot.config import Settings, WinRMSettings
from bot.slack.blocks import APPROVE
from bot.slack.channels import ChannelNames
from bot.slack.frontend import SlackFrontEnd
from bot.slack.home import MAX_HOME_BLOCKS, home_view
from bot.slack.notifier import SlackNotifier
from bot.slack.pacing import MethodBuckets
from bot.slack.permalinks import MessageLink, Permalinks
from bot.slack.replies import linked_ids
from policies.files import load_policy, parse_inventory
from policies.identity import Principal

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def permalink(channel: str, ts: str) -> str:
    """What the fake Slack answers, as real Slack does: the workspace URL, the channel, p + ts."""
    return f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"


def home_text(home: dict) -> str:
    return "\n".join(b["text"]["text"] for b in home["blocks"] if b["type"] == "section")


def open_home(bot, fake_slack, user: str) -> dict:
    published = len(fake_slack.of("views.publish"))
    opened = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
    assert bot.slack.event(opened).status == 200
    fake_slack.wait_for(lambda calls: len([c for c in calls if c.method == "views.publish"]) > published,
                        what="the Home tab published")
    return fake_slack.homes[user]


# ---- the permalinks themselves ------------------------------------------------------------------

def asked_for_approval(bot, fake_slack):
    """Alice asks for a restart that waits for approval; its message and request id, once the bot
    has read the post's answer (its ts)."""
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    assert bot.serving.notifier.flush(timeout=10)
    return posted, buttons(posted)[0]["value"]


def _posted(fake_slack, client: WebClient, channel: str = "C0SHOP") -> str:
    return str(client.chat_postMessage(channel=channel, text="a request")["ts"])


def test_a_permalink_is_asked_once_and_kept(fake_slack):
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    ts = _posted(fake_slack, client)
    links = Permalinks(client, {"r-1": ("C0SHOP", ts)}.get)
    first, again = links.of_request("r-1"), links.of_request("r-1")
    assert first == again == MessageLink("C0SHOP", permalink("C0SHOP", ts))
    assert len(fake_slack.of("chat.getPermalink")) == 1


def test_a_deleted_message_is_told_and_not_asked_again_and_a_request_without_one_asks_nothing(fake_slack):
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    ts = _posted(fake_slack, client)
    del fake_slack.messages[("C0SHOP", ts)]  # someone deleted it
    links = Permalinks(client, {"r-1": ("C0SHOP", ts), "r-2": ("C0SHOP", None)}.get)
    assert links.of_request("r-1") == MessageLink("C0SHOP", None, gone=True)
    assert links.of_request("r-1").gone
    assert [c.answer["error"] for c in fake_slack.refused("chat.getPermalink")] == ["message_not_found"]
    assert links.of_request("r-2") == MessageLink("C0SHOP")  # being posted: its channel
    assert links.of_request("r-3") == MessageLink(None)  # no message at all
    assert len([c for c in fake_slack.calls if c.method == "chat.getPermalink"]) == 1  # r-1 once, the rest never


def test_slack_unreachable_names_the_channel_and_asks_again_next_time(fake_slack):
    client = WebClient(token=fake_slack.token, base_url="http://127.0.0.1:9/api/", timeout=2)
    links = Permalinks(client, {"r-1": ("C0SHOP", "1.000001")}.get)
    assert links.of_request("r-1") == MessageLink("C0SHOP")  # not gone: not known now
    pointed = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    ts = _posted(fake_slack, pointed)
    links = Permalinks(pointed, {"r-1": ("C0SHOP", ts)}.get)
    fake_slack.channel_state("C0SHOP", "not_in_channel")  # getPermalink answers channel_not_found
    assert links.of_request("r-1") == MessageLink("C0SHOP")
    fake_slack.channel_state("C0SHOP", None)  # the bot was invited again: asked again, linked
    assert links.of_request("r-1").url == permalink("C0SHOP", ts)


# ---- App Home with 20 + 20 requests, against the fake Slack --------------------------------------

SITES = 20


def _twenty_sites() -> str:
    """Twenty sites, each with a pool and host of its own: twenty requests may wait at once."""
    return "".join(f'[hosts.h{i:02d}]\naddress = "h{i:02d}.corp.example"\ntransport = "kerberos"\n'
                   f'iis_major_version = 10\n\n[sites.s{i:02d}]\nenvironment = "staging"\nhosts = ["h{i:02d}"]\n'
                   f'iis_site = "S{i:02d}"\napp = "/"\npool = "P{i:02d}"\nchannel = "C0SHOP"\n\n'
                   for i in range(SITES))


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), parse_inventory(_twenty_sites(), "twenty.toml"),
                           workdir=tmp_path, winrm=WinRMSettings(command_timeout_s=10), owner="test-bot")
    return FakeWorld.build(settings)


def test_the_home_tab_links_20_waiting_and_20_own_requests_and_asks_each_permalink_once(world, fake_slack):
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    # forty posts at once: the fake Slack has no tier to keep to
    notifier = SlackNotifier(client, lambda site: "C0SHOP", buckets=MethodBuckets({"chat.postMessage": 6000}))
    try:
        alice, bob = (Principal(id=u, verified=True, channel="C0SHOP") for u in (ALICE, BOB))
        for i in range(SITES):
            assert handle_text(f"/recycle s{i:02d} --scope apppool", bob, world.service, "slack:C0SHOP").state \
                == "succeeded"  # bob's own
            assert handle_text(f"/recycle s{i:02d} --reason hung", alice, world.service, "slack:C0SHOP").state \
                == "awaiting_approval"  # waits on bob
        requests = world.service.list_requests(limit=100).root
        assert len(requests) == 40
        for request in requests:
            notifier.show(request.id, request)
        assert notifier.flush(timeout=20)
        front = SlackFrontEnd(world.service, notifier, channels=ChannelNames(client))

        home = home_view(front, BOB)
        assert len(home["blocks"]) <= MAX_HOME_BLOCKS
        text = home_text(home)
        for request in requests:
            channel, ts = notifier.message_of(request.id) or ("", None)
            assert f"<{permalink(channel, str(ts))}|{request.id}>" in text
        asked = len(fake_slack.of("chat.getPermalink"))
        assert asked == 40
        assert home_view(front, BOB) == home  # opened again: the same links, not one more call
        assert len(fake_slack.of("chat.getPermalink")) == asked
        assert client.views_publish(user_id=BOB, view=home)["ok"]  # Slack takes it (100 blocks at most)
    finally:
        notifier.close()


# ---- through Slack: App Home, /recycle requests, the approve command -------------------------------

def test_the_home_tab_links_the_request_waiting_on_me_to_its_message(start_bot, fake_slack):
    bot = start_bot()
    posted, request_id = asked_for_approval(bot, fake_slack)
    text = home_text(open_home(bot, fake_slack, BOB))
    assert f"<{permalink('C0SHOP', posted.answer['ts'])}|{request_id}>" in text
    assert "C0SHOP" not in text.replace(permalink("C0SHOP", posted.answer["ts"]), "")  # no bare channel id


def test_a_deleted_message_and_requests_without_one_say_so_in_the_home_tab(start_bot, fake_slack):
    bot = start_bot()
    service, alice = bot.service, Principal(id=ALICE, verified=True, channel="C0SHOP")
    deleted = handle_text("/recycle shop-web --reason hung", alice, service, "mcp")  # asked outside Slack
    posted = approval_message(fake_slack)
    del fake_slack.messages[("C0SHOP", posted.answer["ts"])]  # deleted before anyone linked it
    handle_text(f"/recycle deny {deleted.id}", alice, service, "mcp")  # withdrawn: the pool is free again
    fake_slack.channel_state("C0SHOP", "is_archived")
    refused = handle_text("/recycle shop-web --reason hung", alice, service, "mcp")  # Slack refuses its post
    fake_slack.wait_for(lambda calls: fake_slack.refused("chat.postMessage"), what="the refused post",
                        refused_too=True)
    no_channel = handle_text("/recycle canary --reason hung", alice, service, "mcp")  # canary names no channel
    assert bot.serving.notifier.flush(timeout=10)

    text = home_text(open_home(bot, fake_slack, ALICE))
    lines = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("• `")}
    assert lines[deleted.id].endswith("(its message in #shop-deploys was deleted)")
    assert lines[refused.id].endswith("(no channel message)")
    assert lines[no_channel.id].endswith("(no channel message)")
    assert "https://" not in text and "C0SHOP" not in text


def test_recycle_requests_links_each_request_and_a_429_on_the_permalink_is_waited_out(start_bot, fake_slack):
    bot = start_bot()
    handle_text("/recycle shop-web --reason hung", Principal(id=ALICE, verified=True), bot.service, "mcp")
    posted = approval_message(fake_slack)
    request_id = buttons(posted)[0]["value"]
    assert bot.serving.notifier.flush(timeout=10)  # the bot has read the post's answer (its ts)
    fake_slack.rate_limit("chat.getPermalink", times=1, retry_after=1)
    bot.slack.command(BOB, "requests")
    reply = reply_saying(fake_slack, "Waiting on you")
    assert f"<{permalink('C0SHOP', posted.answer['ts'])}|{request_id}>" in reply.text_everywhere
    assert [c.status for c in fake_slack.calls if c.method == "chat.getPermalink"] == [429, 200]


def test_recycle_requests_for_a_site_lists_the_latest_with_links(start_bot, fake_slack):
    bot = start_bot()
    handle_text("/recycle shop-web --reason hung", Principal(id=ALICE, verified=True), bot.service, "mcp")
    posted = approval_message(fake_slack)
    request_id = buttons(posted)[0]["value"]
    assert bot.serving.notifier.flush(timeout=10)  # the bot has read the post's answer (its ts)
    bot.slack.command(BOB, "requests shop-web")
    reply = reply_saying(fake_slack, f"{request_id}` shop-web")
    assert f"(<{permalink('C0SHOP', posted.answer['ts'])}|its message>)" in reply.text_everywhere
    assert "Waiting on you" not in reply.text_everywhere  # the core's list, not mine


def test_approving_by_command_links_to_the_requests_message(start_bot, fake_slack):
    bot = start_bot()
    posted, request_id = asked_for_approval(bot, fake_slack)
    bot.slack.command(BOB, f"approve {request_id}", channel="C0OTHER")
    reply = reply_saying(fake_slack, "|its message>)")  # the approver's reply, not alice's
    assert reply.body["text"].startswith(f"`{request_id}` shop-web: worker restart is ")
    assert f"(<{permalink('C0SHOP', posted.answer['ts'])}|its message>)" in reply.text_everywhere
    assert "`C0SHOP`" not in reply.text_everywhere


def test_a_button_on_another_message_links_to_the_requests_own(start_bot, fake_slack):
    bot = start_bot()
    posted, request_id = asked_for_approval(bot, fake_slack)
    bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", "1700000000.999999")  # not where the request is
    reply = reply_saying(fake_slack, "This button is not on")
    assert f"own message: <{permalink('C0SHOP', posted.answer['ts'])}|its message>." in reply.text_everywhere
    assert bot.service.get_request(request_id).state == "awaiting_approval"


def test_a_used_deploy_notice_links_to_the_request_it_made(start_bot, fake_slack):
    bot = start_bot()
    notice = {"site": "shop-web", "version": "2.4.1", "environment": "prod",
              "changed_files": ["App_Config/connectionStrings.config"]}
    assert deploy_hook(bot.url, WEBHOOK_SECRET, notice).status == 200
    [posted] = fake_slack.of("chat.postMessage")
    [run] = buttons(posted)
    bot.slack.click(ALICE, run["action_id"], run["value"], "C0SHOP", posted.answer["ts"],
                    message={"text": posted.body["text"], "blocks": posted.blocks})
    retired = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == posted.answer["ts"]),
                           None), what="the notice saying who used its button")
    [request] = bot.service.store.list()
    channel, ts = bot.serving.notifier.message_of(request.id) or ("", None)
    assert f"<{permalink(channel, str(ts))}|{request.id}>, " in retired.text_everywhere


def test_the_approvers_dm_and_the_askers_reply_share_one_permalink_call(start_bot, fake_slack):
    fake_slack.channel_members["C0SHOP"] = [ALICE, "U0BOT"]  # bob, the approver, is not in #shop
    bot = start_bot()
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    link = permalink("C0SHOP", posted.answer["ts"])
    dm = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                                 and c.body.get("channel") == f"D{BOB}"), None), what="bob's DM")
    assert f"<{link}|open the request>" in dm.body["text"]
    assert f"<{link}|its message>" in reply_saying(fake_slack, "|its message>").body["text"]
    assert len(fake_slack.of("chat.getPermalink")) == 1


def test_a_pool_busy_with_another_request_links_to_that_requests_message(start_bot, fake_slack):
    bot = start_bot()
    posted, request_id = asked_for_approval(bot, fake_slack)
    bot.slack.command(BOB, "shop-web --scope apppool")
    text = reply_saying(fake_slack, "is busy with").blocks[0]["text"]["text"]
    assert f"is busy with <@{ALICE}>'s request <{permalink('C0SHOP', posted.answer['ts'])}|{request_id}> since " \
        in text
    assert "it waits for approval until <!date^" in text
    assert len(bot.service.store.list()) == 1  # bob's was refused: nothing else ran


def test_help_in_slack_says_what_recycle_requests_lists(start_bot, fake_slack):
    bot = start_bot()
    bot.slack.command(CAROL, "help")
    text = reply_saying(fake_slack, "/recycle requests").blocks[0]["text"]["text"]
    assert "/recycle requests           what waits on your approval, and your own, linked to their messages" in text
    assert "aspreset " not in text


def test_an_error_naming_a_request_links_it_and_leaves_commands_in_code_alone(start_bot, fake_slack):
    bot = start_bot()
    posted, request_id = asked_for_approval(bot, fake_slack)
    bot.slack.command(ALICE, f"approve {request_id}")  # her own: a second person must approve it
    text = reply_saying(fake_slack, "a second person must approve it").blocks[0]["text"]["text"]
    assert f"asked for <{permalink('C0SHOP', posted.answer['ts'])}|{request_id}>: a second person" in text
    assert bot.service.get_request(request_id).state == "awaiting_approval"


def test_linked_ids_skip_code_and_unknown_requests_stay_in_code():
    known = {"r-abc234": MessageLink("C0SHOP", "https://fake.slack.test/archives/C0SHOP/p1")}
    text = "r-abc234 and r-zzz234 wait; run `/recycle approve r-abc234`"
    linked = linked_ids(text, lambda request_id: known.get(request_id, MessageLink(None)))
    assert linked == ("<https://fake.slack.test/archives/C0SHOP/p1|r-abc234> and `r-zzz234` wait; "
                      "run `/recycle approve r-abc234`")
