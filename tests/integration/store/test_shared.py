"""What the serve replicas share in the store: a lease has one holder until it lapses, a key is
used once within its window, a request's message is recorded once (the first poster wins) and a
final state is shown by exactly one caller. The same contract in memory and in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.records import NewRequest
from bot.store import SqlStore
from bot.store.shared import MemoryShared, Shared, SqlShared
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
