"""A bot killed with SIGKILL while it runs a request: on restart the request is marked
`interrupted` (never re-run by itself) and its locks are free.

Tests taking `store` are the Store contract (SQLite, PostgreSQL, memory); those taking `sql_store`
or `store_url` need a database (its constraints, triggers, other processes)."""

from __future__ import annotations

import signal

import pytest
from store_scenarios import (
    DEADLINE_S,
    SPAWN,
    T0,
    at,
    claim_then_hang,
    collect,
    hold_write_transaction,
    locks_of,
    new_request,
    started,
)

from bot.app.ports import Store
from bot.store import AuditAction, LockHeld, RequestState
from bot.store.sql import SqlStore


def _kill_while_running(store_url: str, request_id: str, owner: str) -> None:
    results = SPAWN.Queue()
    never = SPAWN.Event()
    child = SPAWN.Process(target=claim_then_hang, args=(store_url, request_id, owner, results, never))
    with started([child]):
        assert collect(results, 1, [child]) == [(True,)]
        child.kill()  # SIGKILL: no cleanup, no finally, connections just vanish
        child.join(DEADLINE_S)
        assert child.exitcode == -signal.SIGKILL


def test_a_request_running_in_a_killed_bot_is_interrupted_on_restart_and_its_locks_freed(
    store_url: str,
) -> None:
    with SqlStore(store_url) as before:
        new = new_request(approvals_needed=1)
        request = before.create_request(new, locks_of(new), T0)
        assert before.add_approval(request.id, "U02BOB", at(1)).became_approved

    _kill_while_running(store_url, request.id, owner="bot-a")

    with SqlStore(store_url) as restarted:  # the bot starting again
        assert restarted.get(request.id).state is RequestState.RUNNING
        other = new_request(requester="U03CAROL", requester_person="carol")
        with pytest.raises(LockHeld):
            restarted.create_request(other, locks_of(other), at(2))

        assert restarted.mark_interrupted(at(3)) == [request.id]
        assert restarted.mark_interrupted(at(4)) == []

        interrupted = restarted.get(request.id)
        assert interrupted.state is RequestState.INTERRUPTED
        assert restarted.claim_for_run(request.id, at(5)) is False  # never re-run by itself
        assert restarted.create_request(other, locks_of(other), at(5)).state is RequestState.AWAITING_APPROVAL
        last = restarted.audit(request_id=request.id)[-1]
        assert (last.action, last.state_from, last.state_to) == (
            AuditAction.INTERRUPTED,
            RequestState.RUNNING,
            RequestState.INTERRUPTED,
        )
        assert last.details["owner"] == "bot-a"


def test_a_restarting_replica_interrupts_only_what_it_was_running(store: Store) -> None:
    mine_new = new_request(hosts=("web1",), approvals_needed=0)
    theirs_new = new_request(hosts=("web2",), approvals_needed=0)
    mine = store.create_request(mine_new, locks_of(mine_new), T0)
    theirs = store.create_request(theirs_new, locks_of(theirs_new), T0)
    store.claim_for_run(mine.id, at(1), owner="replica-1")
    store.claim_for_run(theirs.id, at(1), owner="replica-2")

    assert store.mark_interrupted(at(2), owner="replica-1") == [mine.id]

    assert store.get(mine.id).state is RequestState.INTERRUPTED
    assert store.get(theirs.id).state is RequestState.RUNNING
    assert store.mark_interrupted(at(3)) == [theirs.id]


def test_a_bot_killed_inside_a_write_transaction_leaves_the_database_usable(store_url: str) -> None:
    with SqlStore(store_url) as store:
        new = new_request(approvals_needed=0)
        request = store.create_request(new, locks_of(new), T0)

    results = SPAWN.Queue()
    never = SPAWN.Event()
    child = SPAWN.Process(target=hold_write_transaction, args=(store_url, request.id, results, never))
    with started([child]):
        assert collect(results, 1, [child]) == [("holding",)]
        child.kill()
        child.join(DEADLINE_S)

    with SqlStore(store_url) as restarted:
        assert restarted.claim_for_run(request.id, at(1), owner="bot-b") is True
        assert restarted.get(request.id).owner == "bot-b"


def test_what_a_run_recorded_of_its_hosts_is_what_its_interruption_keeps_and_only_while_it_runs(
    store: Store,
) -> None:
    new = new_request(hosts=("web1", "web2", "web3"), approvals_needed=0)
    request = store.create_request(new, locks_of(new), T0)
    assert store.record_hosts(request.id, {"hosts": [], "dispatched": ["web1"]}) is False, "not running yet"
    store.claim_for_run(request.id, at(1), owner="runner-1")
    web1 = {"host": "web1", "rung": "apppool", "method": "recycle", "outcome": "succeeded",
            "pids_before": [4100], "pids_after": [4200]}

    assert store.record_hosts(request.id, {"hosts": [], "dispatched": ["web1"]}) is True
    assert store.record_hosts(request.id, {"hosts": [web1], "dispatched": ["web1", "web2"]}) is True
    assert store.get(request.id).state is RequestState.RUNNING
    assert store.mark_interrupted(at(2), request_id=request.id) == [request.id]

    interrupted = store.get(request.id)
    assert interrupted.result == {"hosts": [web1], "dispatched": ["web1", "web2"]}
    assert store.audit(request_id=request.id)[-1].details["known"] == interrupted.result
    assert store.record_hosts(request.id, {"hosts": [], "dispatched": []}) is False, "an ended run is left alone"
    assert store.get(request.id).result == interrupted.result
