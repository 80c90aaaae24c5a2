"""Per-(host, app pool) locks: taken when a request is recorded, held while it waits and runs,
released when it ends; an overlapping request is refused naming who holds what since when.

Tests taking `store` are the Store contract (SQLite, PostgreSQL, memory); those taking `sql_store`
or `store_url` need a database (its constraints, triggers, other processes)."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from store_scenarios import T0, at, locks_of, new_request

from bot.app.ports import Store
from bot.store import LockHeld, LockKey, RequestState
from bot.store.database import create_store_engine, parse_url
from bot.store.schema import requests
from bot.store.sql import SqlStore


def test_a_second_request_for_a_locked_pool_is_refused_with_the_holder_named(store: Store) -> None:
    first_new = new_request(hosts=("web1", "web2"), requester="U01ALICE")
    first = store.create_request(first_new, locks_of(first_new), T0)
    second_new = new_request(hosts=("web2", "web3"), requester="U02BOB", requester_person="bob")

    with pytest.raises(LockHeld) as held:
        store.create_request(second_new, locks_of(second_new), at(5))

    error = held.value
    assert (error.host, error.pool) == ("web2", "ShopPool")
    assert error.holder_request_id == first.id
    assert error.holder_requester == "U01ALICE"
    assert error.since == T0
    assert error.until == at(30)  # the holder waits for approval until it expires
    assert str(error) == (f"web2 / ShopPool is locked by U01ALICE for request {first.id} "
                          "since 2026-03-02T09:00:00+00:00; it waits for approval until 2026-03-02T09:30:00+00:00")
    assert error.code == "locked"


def test_a_lock_held_by_a_running_request_names_no_until(store: Store) -> None:
    first_new = new_request(approvals_needed=0)
    first = store.create_request(first_new, locks_of(first_new), T0)
    assert store.claim_for_run(first.id, at(1), owner="bot-a")

    with pytest.raises(LockHeld) as held:
        store.create_request(new_request(requester="U02BOB", requester_person="bob"), locks_of(first_new), at(2))

    assert held.value.holder_request_id == first.id and held.value.until is None
    assert "waits for approval" not in str(held.value)


def test_a_refused_overlap_records_nothing_and_takes_no_lock(store: Store) -> None:
    held_new = new_request(hosts=("web2",))
    store.create_request(held_new, locks_of(held_new), T0)
    overlapping = new_request(hosts=("web1", "web2", "web3"), requester="U02BOB", requester_person="bob")

    with pytest.raises(LockHeld):
        store.create_request(overlapping, locks_of(overlapping), at(1))

    assert len(store.list()) == 1
    free = new_request(hosts=("web1", "web3"), requester="U02BOB", requester_person="bob")
    assert store.create_request(free, locks_of(free), at(2)).state is RequestState.AWAITING_APPROVAL


def test_locks_are_per_host_and_pool_and_ignore_case(store: Store) -> None:
    store.create_request(new_request(), [LockKey("web1", "ShopPool")], T0)
    other_pool = new_request(pool="ApiPool")
    other_host = new_request(hosts=("web9",))

    store.create_request(other_pool, [LockKey("web1", "ApiPool")], T0)
    store.create_request(other_host, [LockKey("web9", "ShopPool")], T0)
    with pytest.raises(LockHeld):
        store.create_request(new_request(), [LockKey("WEB1", "shoppool")], T0)


def test_a_lock_is_held_while_waiting_and_running_and_released_at_the_end(store: Store) -> None:
    new = new_request(approvals_needed=1)
    request = store.create_request(new, locks_of(new), T0)
    other = new_request(requester="U03CAROL", requester_person="carol")

    for step in (
        lambda: None,
        lambda: store.add_approval(request.id, "U02BOB", at(1)),
        lambda: store.claim_for_run(request.id, at(2)),
    ):
        step()
        with pytest.raises(LockHeld):
            store.create_request(other, locks_of(other), at(3))

    store.finish(request.id, RequestState.SUCCEEDED, {}, at(4))
    assert store.create_request(other, locks_of(other), at(5)).state is RequestState.AWAITING_APPROVAL


@pytest.mark.parametrize("ending", ["deny", "cancel", "expire", "interrupt", "fail"])
def test_every_way_a_request_ends_releases_its_locks(store: Store, ending: str) -> None:
    new = new_request(approvals_needed=0 if ending in ("interrupt", "fail") else 1)
    request = store.create_request(new, locks_of(new), T0)
    if ending == "deny":
        assert store.deny(request.id, "U02BOB", "no", at(1))
    elif ending == "cancel":
        assert store.cancel(request.id, "U01ALICE", at(1))
    elif ending == "expire":
        assert store.expire_due(at(60)) == [request.id]
    else:
        assert store.claim_for_run(request.id, at(1))
        if ending == "interrupt":
            assert store.mark_interrupted(at(2)) == [request.id]
        else:
            assert store.finish(request.id, RequestState.FAILED, {"error": "TimedOut"}, at(2))

    other = new_request(requester="U03CAROL", requester_person="carol")
    assert store.create_request(other, locks_of(other), at(90)).state is RequestState.AWAITING_APPROVAL


def test_a_lock_left_behind_by_a_finished_request_counts_as_free(sql_store: SqlStore, store_url: str) -> None:
    new = new_request(approvals_needed=0)
    request = sql_store.create_request(new, locks_of(new), T0)
    engine = create_store_engine(parse_url(store_url))
    with engine.begin() as conn:  # what a bug or a hand edit might leave: ended, lock still there
        conn.execute(update(requests).where(requests.c.id == request.id).values(state="failed"))
        assert conn.execute(text("SELECT count(*) FROM request_locks")).scalar_one() == 2
    engine.dispose()

    other = new_request(requester="U03CAROL", requester_person="carol", approvals_needed=0)
    taken = sql_store.create_request(other, locks_of(other), at(1))

    assert taken.state is RequestState.APPROVED
    third = new_request(requester="U04DAN", requester_person="dan")
    with pytest.raises(LockHeld) as held:
        sql_store.create_request(third, locks_of(third), at(2))
    assert held.value.holder_request_id == taken.id


def test_a_request_may_lock_nothing(store: Store) -> None:
    verify_only = new_request(rung="none", approvals_needed=0)
    first = store.create_request(verify_only, [], T0)
    second = store.create_request(verify_only, [], T0)
    assert first.id != second.id
