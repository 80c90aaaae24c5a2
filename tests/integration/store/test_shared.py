"""What the serve replicas share in the store: a lease has one holder until it lapses, a key is
used once within its window, a request's message is recorded once (the first poster wins), a
final state is shown by exactly one caller, and a Slack method's token bucket and its pause after a
429 hold for every caller. The same contract in memory and in SQL; two replicas on one SQLite file
or one PostgreSQL draw on one bucket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.records import NewRequest
from bot.store import SqlStore
from bot.store.shared import Bucket, MemoryShared, Shared, SqlShared
from commands.rungs import Rung

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def shared_and_request(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Shared, str]]:
    if request.param == "memory":
        yield MemoryShared(), "r-abc123"
        return
    store = SqlStore(f"sqlite:///{tmp_path / 'shared.db'}")
    new = NewRequest(site="shop-web", rung=Rung.APPPOOL, hosts=("web01",), pool="ShopPool", requester="U01ALICE",
                     origin="slack:C0SHOP", plan={}, decision={"outcome": "allow", "rule": "t", "reasons": []})
    recorded = store.create_request(new, new.default_locks(), NOW)
    yield SqlShared(store), recorded.id
    store.close()


def test_a_lease_has_one_holder_until_it_lapses(shared_and_request):
    shared, _ = shared_and_request
    assert shared.hold_lease("sweeper", "a", NOW, ttl_s=30)
    assert not shared.hold_lease("sweeper", "b", NOW + timedelta(seconds=10), ttl_s=30)
    assert shared.hold_lease("sweeper", "a", NOW + timedelta(seconds=20), ttl_s=30)  # renewed
    assert not shared.hold_lease("sweeper", "b", NOW + timedelta(seconds=45), ttl_s=30)
    assert shared.hold_lease("sweeper", "b", NOW + timedelta(seconds=51), ttl_s=30)  # a stopped renewing


def test_a_key_is_used_once_within_its_window(shared_and_request):
    shared, _ = shared_and_request
    assert shared.use_once("webhook:sha256=ab", NOW, keep_s=600)
    assert not shared.use_once("webhook:sha256=ab", NOW + timedelta(seconds=599), keep_s=600)
    shared.forget("webhook:sha256=ab")
    assert shared.use_once("webhook:sha256=ab", NOW + timedelta(seconds=600), keep_s=600)
    assert shared.use_once("webhook:sha256=ab", NOW + timedelta(seconds=1300), keep_s=600)  # window passed


def test_the_first_recorded_message_wins_and_a_final_state_is_shown_once(shared_and_request):
    shared, request_id = shared_and_request
    assert not shared.mark_shown(request_id, "expired")  # no message: nothing to show it on
    assert shared.remember_message(request_id, "C0SHOP", "1.1", NOW) == ("C0SHOP", "1.1")
    assert shared.remember_message(request_id, "C0OPS", "2.2", NOW) == ("C0SHOP", "1.1")
    assert shared.message_of(request_id) == ("C0SHOP", "1.1")
    assert shared.mark_shown(request_id, "expired")
    assert not shared.mark_shown(request_id, "expired")


TIER = Bucket(per_minute=60, burst=3)  # a token a second, three at once


def test_a_methods_bucket_gives_its_burst_then_a_token_at_its_rate(shared_and_request):
    shared, _ = shared_and_request
    assert [shared.take_token("chat.update", NOW, TIER) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert shared.take_token("chat.update", NOW, TIER) == pytest.approx(1.0)  # nothing taken: wait 1 s
    assert shared.take_token("chat.update", NOW + timedelta(seconds=1), TIER) == 0.0
    assert shared.take_token("chat.postMessage", NOW, TIER) == 0.0  # each method its own bucket
    assert shared.take_token("conversations.info", NOW, None) == 0.0  # no known tier: no bucket


def test_a_429_pauses_the_method_for_everyone_until_retry_after_and_empties_its_bucket(shared_and_request):
    shared, _ = shared_and_request
    shared.pause("chat.postMessage", NOW + timedelta(seconds=30), NOW)
    shared.pause("chat.postMessage", NOW + timedelta(seconds=5), NOW)  # a shorter pause does not end it sooner
    assert shared.take_token("chat.postMessage", NOW + timedelta(seconds=10), TIER) == pytest.approx(20.0)
    assert shared.take_token("views.open", NOW + timedelta(seconds=10), None) == 0.0  # other methods go on
    assert shared.take_token("chat.postMessage", NOW + timedelta(seconds=30), TIER) == 0.0  # 30 s refilled it
    shared.pause("views.open", NOW + timedelta(seconds=2), NOW)
    assert shared.take_token("views.open", NOW + timedelta(seconds=1), None) == pytest.approx(1.0)


def test_two_replicas_on_one_database_draw_on_one_bucket_and_honour_one_pause(store_url):
    replicas = [SqlStore(store_url), SqlStore(store_url)]
    try:
        first, second = (SqlShared(store) for store in replicas)
        assert first.take_token("chat.update", NOW, TIER) == 0.0
        assert second.take_token("chat.update", NOW, TIER) == 0.0
        assert first.take_token("chat.update", NOW, TIER) == 0.0
        assert second.take_token("chat.update", NOW, TIER) > 0.0  # the burst of 3 is the app's, not each one's
        first.pause("chat.postMessage", NOW + timedelta(seconds=3), NOW)
        assert second.take_token("chat.postMessage", NOW + timedelta(seconds=1), TIER) == pytest.approx(2.0)
    finally:
        for store in replicas:
            store.close()
