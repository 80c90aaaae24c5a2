"""Exactly once under contention: many approvals of one request at the same moment, from threads
and from separate processes, approve it once and run it once; bot processes racing to claim the
same requests run each once; concurrent creates for one pool leave one holder.

Tests taking `store` are the Store contract (SQLite, PostgreSQL, memory); those taking `sql_store`
or `store_url` need a database (its constraints, triggers, other processes)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from store_scenarios import (
    DEADLINE_S,
    SPAWN,
    T0,
    approve_from_threads,
    collect,
    join_all,
    locks_of,
    new_request,
    run_like_a_bot,
    started,
)

from bot.app.ports import Store
from bot.store import AuditAction, LockHeld, RequestState
from bot.store.sql import SqlStore

APPROVERS = [f"U{index:03d}OPS" for index in range(100)]


def _assert_approved_and_claimed_once(store: Store, request_id: str, reports: list[tuple[Any, ...]]) -> None:
    assert len(reports) == 100
    statuses = Counter(status for _, status, _, _ in reports)
    assert sum(1 for *_, became, _ in reports if became) == 1
    assert sum(1 for *_, claimed in reports if claimed) == 1
    assert statuses["counted"] == 2  # approvals_needed
    assert statuses["not_awaiting"] == 98
    request = store.get(request_id)
    assert request.state is RequestState.RUNNING
    assert len(request.approvals) == 2
    actions = Counter(e.action for e in store.audit(request_id=request_id))
    assert actions == {
        AuditAction.REQUESTED: 1,
        AuditAction.APPROVAL: 1,
        AuditAction.APPROVED: 1,
        AuditAction.STARTED: 1,
    }


def test_a_hundred_approvals_from_threads_approve_once_and_run_once(store: Store) -> None:
    new = new_request(approvals_needed=2)
    request = store.create_request(new, locks_of(new), T0)
    barrier = threading.Barrier(len(APPROVERS))
    reports: list[tuple[Any, ...]] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def approve(approver: str) -> None:
        try:
            barrier.wait(DEADLINE_S)
            outcome = store.add_approval(request.id, approver, T0)
            claimed = store.claim_for_run(request.id, T0, owner=approver)
            with guard:
                reports.append((approver, outcome.status.value, outcome.became_approved, claimed))
        except BaseException as exc:
            with guard:
                failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=approve, args=(name,)) for name in APPROVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S)
        assert not thread.is_alive()

    assert failures == []
    _assert_approved_and_claimed_once(store, request.id, reports)


def test_a_hundred_approvals_from_four_processes_approve_once_and_run_once(sql_store: SqlStore, store_url: str) -> None:
    new = new_request(approvals_needed=2)
    request = sql_store.create_request(new, locks_of(new), T0)
    barrier = SPAWN.Barrier(len(APPROVERS))
    results = SPAWN.Queue()
    groups = [APPROVERS[index::4] for index in range(4)]
    processes = [
        SPAWN.Process(target=approve_from_threads, args=(store_url, request.id, group, barrier, results))
        for group in groups
    ]
    with started(processes):
        reports = collect(results, len(APPROVERS), processes)
        join_all(processes)

    _assert_approved_and_claimed_once(sql_store, request.id, reports)
    owners = {e.details["owner"] for e in sql_store.audit(request_id=request.id) if e.action is AuditAction.STARTED}
    assert len(owners) == 1 and owners.pop().startswith("pid-")


def test_two_bot_processes_racing_for_the_same_requests_run_each_once(sql_store: SqlStore, store_url: str) -> None:
    made = []
    for index in range(30):
        new = new_request(hosts=(f"web{index}",), approvals_needed=0)
        made.append(sql_store.create_request(new, locks_of(new), T0).id)
    barrier = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(target=run_like_a_bot, args=(store_url, name, made, barrier, results))
        for name in ("bot-a", "bot-b")
    ]
    with started(processes):
        reports = dict(collect(results, 2, processes))
        join_all(processes)

    assert sorted(reports["bot-a"] + reports["bot-b"]) == sorted(made)
    assert set(reports["bot-a"]).isdisjoint(reports["bot-b"])
    for request_id in made:
        request = sql_store.get(request_id)
        assert request.state is RequestState.SUCCEEDED
        starts = [e for e in sql_store.audit(request_id=request_id) if e.action is AuditAction.STARTED]
        assert len(starts) == 1
        assert request.result == {"ran_by": starts[0].actor}


@pytest.mark.postgres
def test_two_bot_processes_on_one_postgresql_run_a_just_approved_request_once(pg_url: str) -> None:
    with SqlStore(pg_url) as store:
        new = new_request(approvals_needed=0)
        request = store.create_request(new, locks_of(new), T0)
        barrier = SPAWN.Barrier(2)
        results = SPAWN.Queue()
        processes = [
            SPAWN.Process(target=run_like_a_bot, args=(pg_url, name, [request.id], barrier, results))
            for name in ("replica-1", "replica-2")
        ]
        with started(processes):
            reports = collect(results, 2, processes)
            join_all(processes)

        assert sorted(len(ran) for _, ran in reports) == [0, 1]
        assert store.get(request.id).state is RequestState.SUCCEEDED
        assert store.backend == "postgresql"


def test_concurrent_requests_for_one_pool_leave_exactly_one_holder(store: Store) -> None:
    requesters = [f"U{index:03d}DEV" for index in range(20)]
    barrier = threading.Barrier(len(requesters))
    outcomes: list[str] = []
    guard = threading.Lock()

    def request(requester: str) -> None:
        new = new_request(hosts=("web2", "web1"), requester=requester, requester_person=None)
        barrier.wait(DEADLINE_S)
        try:
            store.create_request(new, locks_of(new), T0)
            outcome = "created"
        except LockHeld:
            outcome = "locked"
        except BaseException as exc:
            outcome = repr(exc)
        with guard:
            outcomes.append(outcome)

    threads = [threading.Thread(target=request, args=(name,)) for name in requesters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S)

    assert Counter(outcomes) == {"created": 1, "locked": 19}
    assert len(store.list()) == 1
