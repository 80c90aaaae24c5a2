"""A deploy notice's button, from the store's point of view, against the fake Slack: used once (the
notice then says who used it, when, and links the request's message with how it ended, with no
button), a later click (on any replica) answered only to the clicker with nothing run, and a
notice nobody used retired by the one expiry sweeper once it is a day old: one update, however
many replicas sweep. What the notice shows is rebuilt from the store, not from the clicked message."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_http import ALICE, BOB, CAROL, WEBHOOK_SECRET, deploy_hook
from slack_messages import approval_message, buttons, reply_saying

from bot.slack.blocks import APPROVE
from bot.slack.notice_keeper import SETTLED
from bot.store.notices import USED, notices_for

CONFIG_ONLY = {"site": "shop-web", "version": "2.4.1", "environment": "prod",
               "changed_files": ["App_Config/connectionStrings.config"], "deployed_by": "azure-devops"}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NEVER = 3600.0  # sweep only when the test says so
OLD_NOTE = "Older than a day: this deploy is likely no longer the running one"


def _post_notice(bot, fake_slack):
    assert deploy_hook(bot.url, WEBHOOK_SECRET, CONFIG_ONLY).status == 200
    [notice] = fake_slack.of("chat.postMessage")
    return notice, buttons(notice)[0]


def _click(bot, user, notice, run):
    """A click as Slack sends it: with the message as the clicker's client last showed it (the button on it)."""
    shown = {"text": notice.body["text"], "blocks": notice.blocks}
    assert bot.slack.click(user, run["action_id"], run["value"], "C0SHOP", notice.answer["ts"],
                           message=shown).status == 200


def _updates(fake_slack, ts):
    return [c for c in fake_slack.of("chat.update") if c.body.get("ts") == ts]


def _final_update(fake_slack, ts, word):
    return fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                            and word in c.text_everywhere), None), what=f"the notice updated: {word}")


def test_the_button_runs_once_then_the_notice_says_who_when_and_links_the_request_and_a_second_click_is_refused(
        start_bot, fake_slack, farm):
    bot = start_bot(sweep_every_s=NEVER)
    notice, run = _post_notice(bot, fake_slack)
    ts = notice.answer["ts"]
    _click(bot, ALICE, notice, run)

    done = _final_update(fake_slack, ts, "succeeded")
    [request] = bot.service.store.list()
    assert not buttons(done) and "same policy as" not in done.text_everywhere
    assert "<@U01ALICE> used the button <!date^" in done.text_everywhere
    message = bot.serving.notifier.message_of(request.id)
    assert message is not None and message[1] != ts  # the request's own message, in the notice's thread
    permalink = f"https://fake.slack.test/archives/C0SHOP/p{message[1].replace('.', '')}"
    assert f"<{permalink}|{request.id}>, succeeded" in done.text_everywhere
    assert "App_Config/connectionStrings.config" in done.text_everywhere  # what the notice said stays

    _click(bot, BOB, notice, run)  # Bob's client still showed the button
    refused = reply_saying(fake_slack, "already used this deploy notice's button")
    assert refused.body["response_type"] == "ephemeral" and "<@U01ALICE>" in refused.text_everywhere
    assert f"<{permalink}|{request.id}>" in refused.text_everywhere  # the request it started, linked
    assert len(bot.service.store.list()) == 1
    bot.serving.sweeper.sweep_once()
    assert len(_updates(fake_slack, ts)) == 1  # nothing more to show


def test_a_click_the_policy_refuses_leaves_the_button_to_someone_it_allows(start_bot, fake_slack, farm):
    bot = start_bot(sweep_every_s=NEVER)
    notice, run = _post_notice(bot, fake_slack)
    _click(bot, CAROL, notice, run)
    assert "refused" in reply_saying(fake_slack, "refused").text_everywhere
    assert _updates(fake_slack, notice.answer["ts"]) == []  # the button stays
    _click(bot, ALICE, notice, run)
    _final_update(fake_slack, notice.answer["ts"], "succeeded")
    assert [r.requester for r in bot.service.store.list() if r.state.value == "succeeded"] == [ALICE]


def test_a_restart_waiting_for_approval_is_on_the_notice_and_the_sweeper_shows_how_it_ended(
        start_bot, fake_slack, farm, tmp_path):
    policy = tmp_path / "policy.toml"  # an AppDomain restart waits for a lead
    text = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")
    text = text.replace('rungs = ["none", "appdomain", "apppool"]\nrequesters = ["deployers", "leads"]',
                        'rungs = ["none", "apppool"]\nrequesters = ["deployers", "leads"]')
    policy.write_text(text.replace('rungs = ["worker"]\nrequesters = ["deployers", "leads"]',
                                   'rungs = ["appdomain", "worker"]\nrequesters = ["deployers", "leads"]'),
                      encoding="utf-8")
    bot = start_bot(policy=policy, sweep_every_s=NEVER)
    notice, run = _post_notice(bot, fake_slack)
    ts = notice.answer["ts"]
    _click(bot, ALICE, notice, run)
    waiting = _final_update(fake_slack, ts, "waiting for approval")
    assert not buttons(waiting) and "<@U01ALICE> used the button" in waiting.text_everywhere

    asked = approval_message(fake_slack)
    assert asked.body.get("thread_ts") == ts
    request_id = buttons(asked)[0]["value"]
    bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", asked.answer["ts"])
    fake_slack.wait_for(lambda calls: bot.service.store.get(request_id).state.value == "succeeded",
                        what="the approved restart finished")
    bot.serving.sweeper.sweep_once()
    done = _final_update(fake_slack, ts, "succeeded")
    assert f"|{request_id}>, succeeded" in done.text_everywhere and not buttons(done)
    assert len(_updates(fake_slack, ts)) == 2


def test_a_notice_nobody_used_is_retired_by_the_sweeper_after_a_day_once(start_bot, fake_slack, farm, clock):
    bot = start_bot(clock=clock, sweep_every_s=NEVER)
    notice, run = _post_notice(bot, fake_slack)
    ts = notice.answer["ts"]
    clock.advance(hours=23)
    assert bot.serving.sweeper.sweep_once() == [] and _updates(fake_slack, ts) == []  # not a day old yet

    clock.advance(hours=2)
    bot.serving.sweeper.sweep_once()
    [retired] = _updates(fake_slack, ts)
    assert OLD_NOTE in retired.text_everywhere and "/recycle shop-web" in retired.text_everywhere
    assert not buttons(retired) and "Still needed: appdomain" in retired.text_everywhere
    clock.advance(minutes=1)
    bot.serving.sweeper.sweep_once()
    assert len(_updates(fake_slack, ts)) == 1

    _click(bot, ALICE, notice, run)  # a client that still showed the button
    reply = reply_saying(fake_slack, "more than a day old")
    assert reply.body["response_type"] == "ephemeral"
    assert bot.service.store.list() == [] and all(sim.received == [] for sim in farm.hosts.values())
    assert len(_updates(fake_slack, ts)) == 1


def test_a_button_taken_by_a_click_whose_process_died_before_its_request_existed_is_retired_after_a_day(
        start_bot, fake_slack, farm, clock):
    bot = start_bot(clock=clock, sweep_every_s=NEVER)
    notice, _ = _post_notice(bot, fake_slack)
    ts = notice.answer["ts"]
    notices = notices_for(bot.service.store)
    assert notices.retire("C0SHOP", ts, USED, ALICE, clock())  # what a click does first; then its process died
    clock.advance(hours=23)
    bot.serving.sweeper.sweep_once()
    assert _updates(fake_slack, ts) == []  # not a day yet: for all the store says, it is still planning
    clock.advance(hours=2)
    bot.serving.sweeper.sweep_once()
    [retired] = _updates(fake_slack, ts)
    assert OLD_NOTE in retired.text_everywhere and not buttons(retired)
    assert notices.unsettled(clock(), SETTLED) == []  # the sweeper is done with it


def test_a_click_on_a_day_old_notice_the_sweeper_has_not_reached_retires_it_and_runs_nothing(
        start_bot, fake_slack, farm, clock):
    bot = start_bot(clock=clock, sweep_every_s=NEVER)
    notice, run = _post_notice(bot, fake_slack)
    clock.advance(hours=25)
    _click(bot, ALICE, notice, run)
    assert reply_saying(fake_slack, "more than a day old").body["response_type"] == "ephemeral"
    retired = _final_update(fake_slack, notice.answer["ts"], OLD_NOTE)
    assert not buttons(retired) and bot.service.store.list() == []
    bot.serving.sweeper.sweep_once()
    assert len(_updates(fake_slack, notice.answer["ts"])) == 1


def test_the_sweepers_update_waits_out_slacks_429_and_lands(start_bot, fake_slack, farm, clock):
    bot = start_bot(clock=clock, sweep_every_s=NEVER)
    notice, _ = _post_notice(bot, fake_slack)
    fake_slack.rate_limit("chat.update", times=1, retry_after=1)
    clock.advance(hours=25)
    bot.serving.sweeper.sweep_once()
    [limited] = fake_slack.refused("chat.update")
    [retired] = _updates(fake_slack, notice.answer["ts"])
    assert limited.status == 429 and retired.at - limited.at >= 0.9  # after Retry-After, not before
    assert OLD_NOTE in retired.text_everywhere


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_db(request, tmp_path):
    """One database two replicas share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")


def test_two_replicas_sweeping_retire_a_day_old_notice_with_one_update(start_bot, fake_slack, farm, clock, shared_db):
    first = start_bot(db_url=shared_db, owner="replica-a", clock=clock, sweep_every_s=0.05)
    second = start_bot(db_url=shared_db, owner="replica-b", clock=clock, sweep_every_s=0.05)
    notice, run = _post_notice(first, fake_slack)
    ts = notice.answer["ts"]
    clock.advance(hours=25)
    _final_update(fake_slack, ts, OLD_NOTE)
    clock.advance(minutes=1)  # the lease lapses: whichever replica sweeps next finds nothing to do
    for bot in (second, first, second):
        bot.serving.sweeper.sweep_once()
    assert len(_updates(fake_slack, ts)) == 1

    _click(second, ALICE, notice, run)  # on the replica that did not post it
    assert reply_saying(fake_slack, "more than a day old").body["response_type"] == "ephemeral"
    assert first.service.store.list() == []


def test_a_button_used_through_one_replica_is_refused_through_the_other(start_bot, fake_slack, farm, shared_db):
    first = start_bot(db_url=shared_db, owner="replica-a", sweep_every_s=NEVER)
    second = start_bot(db_url=shared_db, owner="replica-b", sweep_every_s=NEVER)
    notice, run = _post_notice(first, fake_slack)
    _click(first, ALICE, notice, run)
    _final_update(fake_slack, notice.answer["ts"], "succeeded")
    _click(second, BOB, notice, run)
    refused = reply_saying(fake_slack, "already used this deploy notice's button")
    assert refused.body["response_type"] == "ephemeral" and "<@U01ALICE>" in refused.text_everywhere
    assert len(first.service.store.list()) == 1
    assert len(_updates(fake_slack, notice.answer["ts"])) == 1
