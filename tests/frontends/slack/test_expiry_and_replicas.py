"""Expiry is visible without anyone touching the request, and what a replica needs to continue
another's work is in the store: the request's message (approved through replica B, the message
replica A posted is updated; an interrupted run's message is updated, not posted anew), the deploy
webhook's replay protection, and the expiry sweeper's lease (one sweeper posts, never two)."""

from __future__ import annotations

import json
import time

import pytest
from dead_runs import claim_for_a_dead_process, recorded_apppool_request
from slack_http import ALICE, BOB, WEBHOOK_SECRET, deploy_hook
from slack_messages import approval_message, buttons

from bot.store import SqlStore
from bot.store.shared import SqlShared


def _expired_update(fake_slack, ts):
    return fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                            and "expired" in c.body.get("text", "")), None), what="the message updated to expired")


def _thread_replies(fake_slack, ts):
    return [c for c in fake_slack.of("chat.postMessage") if c.body.get("thread_ts") == ts]


def test_a_request_nobody_touches_shows_its_expiry_and_tells_the_requester_in_the_thread(
        start_bot, fake_slack, clock):
    bot = start_bot(clock=clock, sweep_every_s=0.05)
    bot.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    ts = posted.answer["ts"]
    clock.advance(minutes=16)  # the policy gives 15

    updated = _expired_update(fake_slack, ts)
    assert not any(b["type"] == "actions" for b in updated.blocks) and "nothing ran" in updated.text_everywhere
    told = fake_slack.wait_for(lambda calls: _thread_replies(fake_slack, ts), what="the requester told")
    assert "<@U01ALICE>" in told[0].body["text"] and "expired" in told[0].body["text"]
    assert bot.serving.sweeper is not None
    assert [bot.serving.sweeper.sweep_once() for _ in range(3)] == [[], [], []]  # later sweeps tell nobody again
    bot.serving.notifier.flush()
    assert len(_thread_replies(fake_slack, ts)) == 1


@pytest.mark.postgres
def test_two_replicas_sweep_but_only_one_shows_an_expiry(start_bot, fake_slack, clock, pg_url):
    first = start_bot(db_url=pg_url, owner="replica-a", clock=clock, sweep_every_s=0.05)
    start_bot(db_url=pg_url, owner="replica-b", clock=clock, sweep_every_s=0.05)
    first.slack.command(ALICE, "shop-web --reason hung")
    ts = approval_message(fake_slack).answer["ts"]
    clock.advance(minutes=16)
    _expired_update(fake_slack, ts)
    fake_slack.wait_for(lambda calls: _thread_replies(fake_slack, ts), what="the requester told")
    first.serving.notifier.flush()
    assert len(_thread_replies(fake_slack, ts)) == 1
    assert len([c for c in fake_slack.of("chat.update") if "expired" in c.body.get("text", "")]) == 1


@pytest.mark.postgres
def test_an_approval_typed_on_replica_b_updates_the_message_replica_a_posted(start_bot, fake_slack, pg_url):
    first = start_bot(db_url=pg_url, owner="replica-a")
    second = start_bot(db_url=pg_url, owner="replica-b")
    first.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
    second.slack.command(BOB, f"approve {request_id}")
    fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                                          and "succeeded" in c.body.get("text", "") for c in calls),
                        what="replica A's message updated by replica B")
    assert len([c for c in fake_slack.of("chat.postMessage") if not c.body.get("thread_ts")]) == 1


@pytest.mark.postgres
def test_a_signed_webhook_taken_by_one_replica_is_refused_by_the_other(start_bot, fake_slack, pg_url):
    first = start_bot(db_url=pg_url, owner="replica-a")
    second = start_bot(db_url=pg_url, owner="replica-b")
    body = json.dumps({"site": "shop-web", "version": "2.4.1",
                       "changed_files": ["App_Config/connectionStrings.config"]}).encode()
    stamp = int(time.time())
    assert deploy_hook(first.url, WEBHOOK_SECRET, body, timestamp=stamp).status == 200
    again = deploy_hook(second.url, WEBHOOK_SECRET, body, timestamp=stamp)
    assert again.status == 409 and again.json()["error"] == "replayed"
    assert len(fake_slack.of("chat.postMessage")) == 1


def test_an_interrupted_runs_recorded_message_is_updated_not_posted_anew(start_bot, fake_slack, farm, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'aspreset.db'}"
    store = SqlStore(db_url)
    request, now = recorded_apppool_request(store, farm)
    fake_slack.messages[("C0SHOP", "1699999999.000001")] = {"text": "running"}  # what the dead process posted
    SqlShared(store).remember_message(request.id, "C0SHOP", "1699999999.000001", now)
    claim_for_a_dead_process(store, request, now)
    store.close()

    start_bot(db_url=db_url)
    updated = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update"
                            and c.body.get("ts") == "1699999999.000001"), None), what="the old message updated")
    assert "interrupted" in updated.text_everywhere
    assert fake_slack.of("chat.postMessage") == []
