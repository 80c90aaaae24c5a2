"""A request's recorded life: created, approved once, claimed once, finished, or ended before
running (denied, cancelled, expired), each step in the audit trail.

Tests taking `store` are the Store contract (SQLite, PostgreSQL, memory); those taking `sql_store`
or `store_url` need a database (its constraints, triggers, other processes)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from store_scenarios import T0, at, locks_of, new_request

from bot.app.ports import Store
from bot.store import (
    ApprovalStatus,
    AuditAction,
    LockKey,
    RequestState,
    SelfApproval,
    UnknownRequest,
)
from bot.store.database import create_store_engine, parse_url
from bot.store.schema import approvals
from bot.store.sql import SqlStore
from commands.rungs import Rung


def test_a_request_that_needs_approval_is_recorded_awaiting_it_with_everything_asked(store: Store) -> None:
    new = new_request(approvals_needed=2)
    created = store.create_request(new, locks_of(new), T0)

    assert created.id.startswith("r-") and len(created.id) == 8
    assert created.state is RequestState.AWAITING_APPROVAL
    fetched = store.get(created.id)
    assert fetched == created
    assert fetched.site == "shop-web"
    assert fetched.rung is Rung.APPPOOL
    assert fetched.hosts == ("web1", "web2")
    assert fetched.requester == "U01ALICE"
    assert fetched.requester_person == "alice"
    assert fetched.origin == "slack:C0SHOP"
    assert fetched.plan["method"] == "Restart-WebAppPool"
    assert fetched.decision == {"kind": "needs_approval", "reasons": ["test"]}
    assert fetched.approvals_needed == 2
    assert fetched.approvers == ("S0OPS",)
    assert fetched.approvals == ()
    assert fetched.expires_at == at(30)
    assert fetched.created_at == fetched.updated_at == T0
    assert fetched.created_at.tzinfo is not None
    assert fetched.result is None


def test_a_request_needing_no_approval_is_created_approved_and_claimable_at_once(store: Store) -> None:
    new = new_request(approvals_needed=0)
    created = store.create_request(new, locks_of(new), T0)

    assert created.state is RequestState.APPROVED
    assert store.claim_for_run(created.id, at(1), owner="bot-a") is True
    running = store.get(created.id)
    assert running.state is RequestState.RUNNING
    assert running.owner == "bot-a"
    assert running.started_at == at(1)


def test_request_ids_are_unique_and_short_enough_to_type(store: Store) -> None:
    ids = set()
    for index in range(40):
        new = new_request(hosts=(f"web{index}",), approvals_needed=0)
        ids.add(store.create_request(new, locks_of(new), T0).id)
    assert len(ids) == 40
    assert all(re.fullmatch(r"r-[a-z2-7]{6}", request_id) for request_id in ids), ids


def test_the_approval_that_reaches_the_count_approves_and_a_repeat_counts_once(store: Store) -> None:
    new = new_request(approvals_needed=2)
    request = store.create_request(new, locks_of(new), T0)

    first = store.add_approval(request.id, "U02BOB", at(1))
    again = store.add_approval(request.id, "U02BOB", at(2))
    second = store.add_approval(request.id, "U03CAROL", at(3))
    late = store.add_approval(request.id, "U04DAN", at(4))

    assert (first.status, first.state, first.became_approved) == (
        ApprovalStatus.COUNTED,
        RequestState.AWAITING_APPROVAL,
        False,
    )
    assert again.duplicate and not again.became_approved and len(again.approvals) == 1
    assert second.counted and second.became_approved and second.state is RequestState.APPROVED
    assert late.not_awaiting and late.state is RequestState.APPROVED and not late.became_approved
    assert [a.approver for a in store.get(request.id).approvals] == ["U02BOB", "U03CAROL"]
    assert [a.at for a in store.get(request.id).approvals] == [at(1), at(3)]


def test_the_requester_cannot_approve_by_id_or_as_the_same_person(store: Store) -> None:
    new = new_request(requester="mcp:claude", requester_person="alice")
    request = store.create_request(new, locks_of(new), T0)

    with pytest.raises(SelfApproval, match="mcp:claude asked for request"):
        store.add_approval(request.id, "mcp:claude", at(1))
    with pytest.raises(SelfApproval) as refused:
        store.add_approval(request.id, "alice", at(1))

    assert refused.value.code == "not_allowed"
    after = store.get(request.id)
    assert after.state is RequestState.AWAITING_APPROVAL and after.approvals == ()
    assert [e.action for e in store.audit(request_id=request.id)] == [AuditAction.REQUESTED]


def test_the_database_itself_refuses_a_self_approval_row(sql_store: SqlStore, store_url: str) -> None:
    new = new_request(requester="U01ALICE", requester_person="alice")
    request = sql_store.create_request(new, locks_of(new), T0)
    engine = create_store_engine(parse_url(store_url))

    for approver, requester, person in [
        ("U01ALICE", "U01ALICE", "alice"),
        ("alice", "U01ALICE", "alice"),
        ("U02BOB", "U09MALLORY", "alice"),  # lying about the requester breaks the foreign key
    ]:
        with engine.begin() as conn, pytest.raises(IntegrityError):
            conn.execute(
                insert(approvals).values(
                    request_id=request.id,
                    approver=approver,
                    requester=requester,
                    requester_person=person,
                    at=at(1),
                )
            )
    engine.dispose()
    assert sql_store.get(request.id).approvals == ()


def test_an_approval_after_the_deadline_expires_the_request_and_frees_its_locks(store: Store) -> None:
    new = new_request(expires_in_minutes=30)
    request = store.create_request(new, locks_of(new), T0)

    outcome = store.add_approval(request.id, "U02BOB", at(30))

    assert outcome.expired and outcome.state is RequestState.EXPIRED and not outcome.became_approved
    assert store.get(request.id).state is RequestState.EXPIRED
    assert store.get(request.id).approvals == ()
    again = new_request(requester="U02BOB", requester_person="bob")
    assert store.create_request(again, locks_of(again), at(31)).state is RequestState.AWAITING_APPROVAL


def test_expiry_follows_the_clock_it_is_given(store: Store) -> None:
    soon = new_request(hosts=("web1",), expires_in_minutes=10)
    later = new_request(hosts=("web2",), expires_in_minutes=20)
    no_approval = new_request(hosts=("web3",), approvals_needed=0)
    first = store.create_request(soon, locks_of(soon), T0)
    second = store.create_request(later, locks_of(later), T0)
    approved = store.create_request(no_approval, locks_of(no_approval), T0)

    assert store.expire_due(at(9.99)) == []
    assert store.expire_due(at(10)) == [first.id]
    assert store.expire_due(at(10)) == []
    assert store.expire_due(at(60)) == [second.id]

    assert store.get(first.id).state is RequestState.EXPIRED
    assert store.get(approved.id).state is RequestState.APPROVED  # approved requests do not expire
    assert store.add_approval(first.id, "U02BOB", at(61)).not_awaiting
    again = new_request(hosts=("web1", "web2"), requester="U02BOB", requester_person="bob")
    assert store.create_request(again, locks_of(again), at(61)).state is RequestState.AWAITING_APPROVAL
    expired = [e for e in store.audit() if e.action is AuditAction.EXPIRED]
    assert [(e.request_id, e.actor, e.at) for e in expired] == [
        (first.id, "aspreset", at(10)),
        (second.id, "aspreset", at(60)),
    ]


def test_a_denied_request_keeps_the_reason_cannot_be_approved_and_frees_its_locks(store: Store) -> None:
    new = new_request()
    request = store.create_request(new, locks_of(new), T0)

    assert store.deny(request.id, "U02BOB", "not during the sale", at(1)) is True
    assert store.deny(request.id, "U02BOB", "again", at(2)) is False

    denied = store.get(request.id)
    assert denied.state is RequestState.DENIED
    assert denied.deny_reason == "not during the sale"
    assert store.add_approval(request.id, "U03CAROL", at(3)).not_awaiting
    assert store.claim_for_run(request.id, at(3)) is False
    assert store.create_request(new, locks_of(new), at(4)).state is RequestState.AWAITING_APPROVAL


def test_cancel_works_before_running_and_not_after(store: Store) -> None:
    waiting_new = new_request(hosts=("web1",))
    running_new = new_request(hosts=("web2",), approvals_needed=0)
    waiting = store.create_request(waiting_new, locks_of(waiting_new), T0)
    running = store.create_request(running_new, locks_of(running_new), T0)
    assert store.claim_for_run(running.id, at(1))

    assert store.cancel(waiting.id, "U01ALICE", at(2)) is True
    assert store.cancel(running.id, "U01ALICE", at(2)) is False
    assert store.deny(running.id, "U02BOB", "too late", at(2)) is False

    assert store.get(waiting.id).state is RequestState.CANCELLED
    assert store.get(running.id).state is RequestState.RUNNING


def test_finishing_records_the_result_and_frees_the_locks(store: Store) -> None:
    new = new_request(approvals_needed=0)
    request = store.create_request(new, locks_of(new), T0)
    assert store.claim_for_run(request.id, at(1))
    result = {"web1": {"pids_before": [4120], "pids_after": [5532]}, "web2": {"error": "HostUnreachable"}}

    assert store.finish(request.id, RequestState.PARTIALLY_FAILED, result, at(2)) is True
    assert store.finish(request.id, RequestState.SUCCEEDED, {}, at(3)) is False

    finished = store.get(request.id)
    assert finished.state is RequestState.PARTIALLY_FAILED
    assert finished.result == result
    assert store.create_request(new, locks_of(new), at(4)).state is RequestState.APPROVED
    with pytest.raises(ValueError, match="finish to 'running'"):
        store.finish(request.id, RequestState.RUNNING, {}, at(5))


def test_a_request_that_was_never_claimed_cannot_be_finished(store: Store) -> None:
    new = new_request(approvals_needed=0)
    request = store.create_request(new, locks_of(new), T0)

    assert store.finish(request.id, RequestState.SUCCEEDED, {"pids": []}, at(1)) is False
    assert store.get(request.id).state is RequestState.APPROVED


def test_unknown_ids_raise_unknown_request_coded_not_found(store: Store) -> None:
    for call in (
        lambda: store.get("r-nosuch"),
        lambda: store.add_approval("r-nosuch", "U02BOB", T0),
        lambda: store.claim_for_run("r-nosuch", T0),
        lambda: store.finish("r-nosuch", RequestState.FAILED, {}, T0),
        lambda: store.deny("r-nosuch", "U02BOB", "no", T0),
        lambda: store.cancel("r-nosuch", "U02BOB", T0),
    ):
        with pytest.raises(UnknownRequest, match="r-nosuch") as unknown:
            call()
        assert unknown.value.code == "not_found"


def test_naive_timestamps_are_refused(store: Store) -> None:
    new = new_request()
    with pytest.raises(ValueError, match="tz-aware"):
        store.create_request(new, locks_of(new), datetime(2026, 3, 2, 9, 0))
    assert store.list() == []


def test_list_filters_by_state_and_site_newest_first(store: Store) -> None:
    shop = [new_request(hosts=(f"web{i}",), approvals_needed=0) for i in range(3)]
    made = [store.create_request(n, locks_of(n), at(i)) for i, n in enumerate(shop)]
    other = new_request(site="api", hosts=("api1",), pool="ApiPool")
    api = store.create_request(other, locks_of(other), at(5))
    store.claim_for_run(made[0].id, at(6))

    assert [r.id for r in store.list()] == [api.id, made[2].id, made[1].id, made[0].id]
    assert [r.id for r in store.list(site="shop-web", state=RequestState.APPROVED)] == [made[2].id, made[1].id]
    assert [r.id for r in store.list(state=RequestState.RUNNING)] == [made[0].id]
    assert [r.id for r in store.list(limit=2)] == [api.id, made[2].id]


def test_a_refused_request_is_recorded_without_taking_locks(store: Store) -> None:
    new = new_request(rung="server", approvals_needed=0)
    refused = store.record_refused(new, "iisreset is never run: recycle the app pool instead", T0)

    assert refused.state is RequestState.REFUSED
    assert refused.rung is Rung.SERVER
    assert refused.deny_reason == "iisreset is never run: recycle the app pool instead"
    assert store.claim_for_run(refused.id, at(1)) is False
    fine = new_request(approvals_needed=0)
    assert store.create_request(fine, locks_of(fine), at(1)).state is RequestState.APPROVED
    assert [(e.action, e.state_from, e.state_to) for e in store.audit(request_id=refused.id)] == [
        (AuditAction.REFUSED, None, RequestState.REFUSED)
    ]


def test_worker_kills_are_counted_per_host_and_pool_since_a_time(store: Store) -> None:
    def run_worker(hosts: tuple[str, ...], pool: str, minute: float) -> None:
        new = new_request(rung="worker", hosts=hosts, pool=pool, approvals_needed=0)
        request = store.create_request(new, locks_of(new), at(minute))
        assert store.claim_for_run(request.id, at(minute))
        store.finish(request.id, RequestState.SUCCEEDED, {}, at(minute))

    run_worker(("web1", "web2"), "ShopPool", 1)
    run_worker(("web1",), "ShopPool", 10)
    run_worker(("web1",), "ApiPool", 11)
    recycle = new_request(rung="apppool", hosts=("web1",), approvals_needed=0)
    recycled = store.create_request(recycle, locks_of(recycle), at(12))
    store.claim_for_run(recycled.id, at(12))
    waiting = new_request(rung="worker", hosts=("web2",))
    store.create_request(waiting, locks_of(waiting), at(13))  # never reached running

    assert store.count_worker_kills("web1", "ShopPool", at(0)) == 2
    assert store.count_worker_kills("WEB1", "shoppool", at(5)) == 1
    assert store.count_worker_kills("web2", "ShopPool", at(0)) == 1
    assert store.count_worker_kills("web1", "ApiPool", at(0)) == 1
    assert store.count_worker_kills("web1", "ShopPool", at(11)) == 0


def test_times_come_back_in_utc_whatever_zone_they_went_in(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    new = new_request(approvals_needed=0)
    request = store.create_request(new, [LockKey("web1", "ShopPool")], datetime(2026, 3, 2, 10, 0, tzinfo=paris))
    assert store.get(request.id).created_at == T0
    assert store.get(request.id).created_at.tzinfo == UTC
