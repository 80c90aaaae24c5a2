"""Posted deploy notices in the store, the same contract on SQLite, PostgreSQL and in memory: a
notice is recorded with what it said, retired once (whoever asks first: a click or the sweeper),
offered again only when its user's click started nothing, each change of what its message shows is
made by exactly one caller, and the sweeper finds the notices that still need an update."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.records import NewRequest
from bot.store.notices import TOO_OLD, USED, PostedNotice, PostedNotices, notices_for
from commands.rungs import Rung

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAY_AGO = NOW - timedelta(days=1)
SETTLED = ("succeeded", "failed", TOO_OLD)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": ":package: *shop-web* 2.4.1 deployed"}}]


@pytest.fixture
def notices(store) -> PostedNotices:
    return notices_for(store)


def posted(ts: str = "1765098000.000001", at: datetime = NOW) -> PostedNotice:
    return PostedNotice(channel="C0SHOP", ts=ts, site="shop-web", version="2.4.1", rung="appdomain", posted_at=at,
                        text="shop-web 2.4.1 deployed: appdomain restart still needed", blocks=BLOCKS)


def a_request(store) -> str:
    new = NewRequest(site="shop-web", rung=Rung.APPDOMAIN, hosts=("web01",), pool="ShopPool", requester="U01ALICE",
                     origin="slack:C0SHOP", plan={}, decision={"outcome": "allow", "rule": "t", "reasons": []})
    return store.create_request(new, new.default_locks(), NOW).id


def test_a_notice_is_recorded_with_what_it_said(notices):
    notices.record(posted())
    found = notices.get("C0SHOP", "1765098000.000001")
    assert found == posted() and found.offered and found.blocks == BLOCKS
    assert notices.get("C0SHOP", "1765098000.000002") is None
    assert notices.get("C0OPS", "1765098000.000001") is None


def test_a_notice_is_retired_once_and_says_why_by_whom_and_when(notices):
    notices.record(posted())
    assert notices.retire("C0SHOP", posted().ts, USED, "U01ALICE", NOW + timedelta(minutes=5))
    assert not notices.retire("C0SHOP", posted().ts, TOO_OLD, "sweeper", NOW + timedelta(days=2))
    assert not notices.retire("C0SHOP", posted().ts, USED, "U02BOB", NOW + timedelta(minutes=6))
    found = notices.get("C0SHOP", posted().ts)
    assert found is not None and not found.offered
    assert (found.retired_why, found.retired_by, found.retired_at) == (USED, "U01ALICE", NOW + timedelta(minutes=5))


def test_of_two_replicas_retiring_at_once_one_wins(notices):
    notices.record(posted())
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: notices.retire("C0SHOP", posted().ts, USED, f"U0{i}", NOW), range(8)))
    assert won.count(True) == 1


def test_a_click_that_started_nothing_gives_the_button_back_and_one_that_started_a_request_does_not(
        notices, store):
    notices.record(posted())
    notices.retire("C0SHOP", posted().ts, USED, "U03CAROL", NOW)
    notices.reoffer("C0SHOP", posted().ts, "U02BOB")  # not who used it: nothing changes
    assert not notices.get("C0SHOP", posted().ts).offered
    notices.reoffer("C0SHOP", posted().ts, "U03CAROL")  # the policy refused Carol: the button is back
    assert notices.get("C0SHOP", posted().ts).offered

    request_id = a_request(store)
    assert notices.retire("C0SHOP", posted().ts, USED, "U01ALICE", NOW)
    notices.started("C0SHOP", posted().ts, request_id)
    notices.reoffer("C0SHOP", posted().ts, "U01ALICE")
    found = notices.get("C0SHOP", posted().ts)
    assert not found.offered and found.request_id == request_id


def test_what_the_message_shows_changes_once_per_change(notices):
    notices.record(posted())
    assert notices.mark_shown("C0SHOP", posted().ts, None, "awaiting_approval")
    assert not notices.mark_shown("C0SHOP", posted().ts, None, "awaiting_approval")
    assert notices.mark_shown("C0SHOP", posted().ts, "awaiting_approval", "succeeded")
    assert not notices.mark_shown("C0SHOP", posted().ts, "awaiting_approval", "succeeded")
    assert notices.get("C0SHOP", posted().ts).shown == "succeeded"
    assert not notices.mark_shown("C0SHOP", "9.9", None, TOO_OLD)  # no such notice


def test_the_sweeper_finds_old_offers_and_retired_notices_not_yet_showing_their_end(notices):
    old, young, used, done = (posted(ts=f"1765098000.00000{i}", at=at) for i, at in
                              enumerate([DAY_AGO - timedelta(hours=1), NOW, DAY_AGO - timedelta(hours=2), NOW]))
    for notice in (old, young, used, done):
        notices.record(notice)
    notices.retire("C0SHOP", used.ts, USED, "U01ALICE", NOW)
    notices.mark_shown("C0SHOP", used.ts, None, "awaiting_approval")
    notices.retire("C0SHOP", done.ts, USED, "U01ALICE", NOW)
    notices.mark_shown("C0SHOP", done.ts, None, "succeeded")

    assert [n.ts for n in notices.unsettled(DAY_AGO, SETTLED)] == [used.ts, old.ts]  # oldest first
    assert [n.ts for n in notices.unsettled(DAY_AGO, SETTLED, limit=1)] == [used.ts]
    notices.retire("C0SHOP", old.ts, TOO_OLD, "sweeper", NOW)
    assert [n.ts for n in notices.unsettled(DAY_AGO, SETTLED)] == [used.ts, old.ts]  # retired, not shown yet
    notices.mark_shown("C0SHOP", old.ts, None, TOO_OLD)
    notices.mark_shown("C0SHOP", used.ts, "awaiting_approval", "failed")
    assert notices.unsettled(DAY_AGO, SETTLED) == []
