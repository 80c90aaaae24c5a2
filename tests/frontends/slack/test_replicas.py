"""Two `serve` replicas behind one URL, sharing one PostgreSQL database: the approval posted by one
can be clicked on the other, which updates the same message and runs the restart exactly once,
even when Slack delivers the click to both at the same moment. A run that a dead bot process left
behind is marked interrupted when the bot starts again, and the site's channel hears it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from dead_runs import claim_for_a_dead_process, recorded_apppool_request
from slack_http import ALICE, BOB
from slack_messages import approval_message, buttons, reply_saying, worker_kills

from bot.app.records import RequestState
from bot.slack.blocks import APPROVE
from bot.store import ApprovalOutcome, SqlStore


@pytest.mark.postgres
def test_a_click_on_the_replica_that_did_not_post_the_approval_runs_it_once(start_bot, fake_slack, farm, pg_url):
    first = start_bot(db_url=pg_url, owner="replica-a")
    second = start_bot(db_url=pg_url, owner="replica-b")
    before = farm.host("web01").pids("ShopPool")
    processes = farm.host("web01").processes("ShopPool")

    first.slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]

    assert second.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
    final = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.update" and c.body.get("ts") == ts
                            and "succeeded" in c.body.get("text", "")), None),
        what="the same message updated by the other replica")
    after = farm.host("web01").pids("ShopPool")
    assert farm.host("web01").processes("ShopPool").isdisjoint(processes)  # (PID, start time): PIDs are reused
    assert f"PIDs {', '.join(map(str, before))} → {', '.join(map(str, after))}" in final.text_everywhere
    assert worker_kills(farm) == 2
    started = [e for e in first.service.store.audit(request_id=request_id) if e.action.value == "started"]
    assert [e.actor for e in started] == ["replica-b"]


@pytest.mark.postgres
def test_one_click_delivered_to_both_replicas_at_once_runs_the_restart_once(start_bot, fake_slack, farm, pg_url):
    replicas = [start_bot(db_url=pg_url, owner="replica-a"), start_bot(db_url=pg_url, owner="replica-b")]
    replicas[0].slack.command(ALICE, "shop-web --reason hung")
    posted = approval_message(fake_slack)
    request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]

    with ThreadPoolExecutor(2) as pool:
        acks = list(pool.map(lambda bot: bot.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts), replicas))
    assert [a.status for a in acks] == [200, 200]
    reply_saying(fake_slack, "already handled")  # the losing click is told
    fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and "succeeded" in c.body.get("text", "")
                                          for c in calls), what="the result")
    for bot in replicas:
        bot.serving.work.shutdown(wait=True)  # both replicas' work after the ack is done
        assert bot.serving.restarts is not None
        bot.serving.restarts.shutdown(wait=True)
    assert worker_kills(farm) == 2  # one kill per host, once
    events = replicas[0].service.store.audit(request_id=request_id)
    assert [e.action.value for e in events].count("started") == 1


class _OtherDeliveryRunsFirst(SqlStore):
    """A real store whose approval, once it makes the request approved, lets the same click delivered
    to the other replica go first: that replica reads the request approved and claims its run before
    this one can (the window two deliveries of one click hit on a loaded machine)."""

    other_click: Callable[[], object] | None = None

    def add_approval(self, request_id: str, approver: str, now: datetime) -> ApprovalOutcome:
        outcome = super().add_approval(request_id, approver, now)
        if outcome.became_approved and self.other_click is not None:
            self.other_click()
            deadline = time.monotonic() + 20
            while self.get(request_id).state == RequestState.APPROVED:  # until the other replica claimed it
                assert time.monotonic() < deadline, "the other replica never claimed the run"
                time.sleep(0.02)  # the interval of a wait with a deadline
        return outcome


@pytest.mark.postgres
def test_the_delivery_that_approved_but_lost_the_run_to_the_other_replica_is_told(start_bot, fake_slack, farm,
                                                                                  pg_url):
    store = _OtherDeliveryRunsFirst(pg_url)
    first = start_bot(db_url=pg_url, owner="replica-a", store=store)
    try:
        second = start_bot(db_url=pg_url, owner="replica-b")
        first.slack.command(ALICE, "shop-web --reason hung")
        posted = approval_message(fake_slack)
        request_id, ts = buttons(posted)[0]["value"], posted.answer["ts"]
        store.other_click = lambda: second.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts)

        assert first.slack.click(BOB, APPROVE, request_id, "C0SHOP", ts).status == 200
        told = reply_saying(fake_slack, "already handled")
        assert request_id in told.text_everywhere and "Nothing more was run" in told.text_everywhere
        fake_slack.wait_for(lambda calls: any(c.method == "chat.update" and c.body.get("ts") == ts
                                              and "succeeded" in c.body.get("text", "") for c in calls),
                            what="the result on the one message")
        second.serving.restarts.shutdown(wait=True)  # type: ignore[union-attr]
        first.serving.restarts.shutdown(wait=True)  # type: ignore[union-attr]
        assert worker_kills(farm) == 2  # one kill per host, once
        started = [e.actor for e in store.audit(request_id=request_id) if e.action.value == "started"]
        assert started == ["replica-b"]
        assert first.serving.notifier.flush() and second.serving.notifier.flush()
        last = [c for c in fake_slack.of("chat.update") if c.body.get("ts") == ts][-1]
        assert "succeeded" in last.body["text"], "an older state of one replica landed over the other's final one"
    finally:
        first.serving.close()  # before the store it was given
        store.close()


def test_a_run_left_by_a_dead_bot_process_is_interrupted_and_the_channel_told_when_the_bot_starts(
    start_bot, fake_slack, farm, tmp_path
):
    db_url = f"sqlite:///{tmp_path / 'aspreset.db'}"
    store = SqlStore(db_url)
    request, now = recorded_apppool_request(store, farm)
    claim_for_a_dead_process(store, request, now)
    store.close()

    start_bot(db_url=db_url)
    told = fake_slack.wait_for(
        lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                            and request.id in c.body.get("text", "")), None),
        what="the channel told about the interrupted run")
    assert told.body["channel"] == "C0SHOP" and "interrupted" in told.text_everywhere
    assert "never re-run" in told.text_everywhere


def test_an_older_state_from_one_replica_never_lands_over_the_final_one_another_showed(start_bot, fake_slack,
                                                                                       tmp_path):
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = start_bot(db_url=db_url, owner="replica-a"), start_bot(db_url=db_url, owner="replica-b")
    first.slack.command(ALICE, "shop-web --scope apppool")
    final = fake_slack.wait_for(lambda calls: next((c for c in calls if c.method == "chat.update"
                                                    and "succeeded" in c.body.get("text", "")), None),
                                what="the final state")
    assert first.serving.notifier.flush()
    [request] = first.service.store.list()
    late = second.service.get_request(request.id).model_copy(update={"state": "running"})

    second.serving.notifier.show(request.id, late)  # e.g. the approval this replica took, heard late

    assert second.serving.notifier.flush()
    last = [c for c in fake_slack.of("chat.update") if c.body.get("ts") == final.body["ts"]][-1]
    assert last is final


def test_a_429_one_replica_hears_pauses_that_method_for_the_other_replica_too(start_bot, fake_slack, tmp_path):
    """Slack counts a method's calls per app, whichever replica makes them: Retry-After holds for both."""
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = start_bot(db_url=db_url, owner="replica-a"), start_bot(db_url=db_url, owner="replica-b")
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=2)
    first.slack.command(ALICE, "shop-web --reason hung")
    [limited] = fake_slack.wait_for(lambda calls: [c for c in calls if c.status == 429], refused_too=True,
                                    what="the 429 the first replica heard")

    second.slack.command(ALICE, "intranet --reason hung")
    posted = approval_message(fake_slack, site="intranet")
    assert posted.at - limited.at >= 1.9, "the second replica posted while Slack had asked the app to wait"
    assert [c.status for c in fake_slack.calls if c.method == "chat.postMessage"].count(429) == 1
