"""A running request's liveness record (bot/store/liveness.py), on SQLite and PostgreSQL: the
deployment's sweeper marks interrupted a run whose runner stopped renewing it, whichever machine it
ran on, but only once the record was lapsed at two sweeps in a row with the same expiry (a store
that was away comes back to runners and sweeper at once, and the runners renew first); a run that
ended is left alone and its record removed."""

from __future__ import annotations

from datetime import timedelta

from store_scenarios import T0, at, locks_of, new_request

from bot.store import AuditAction, RequestState
from bot.store.liveness import LapsedRuns, SqlLiveness
from bot.store.sql import SqlStore


def _running(store: SqlStore, owner: str) -> str:
    new = new_request(approvals_needed=0)
    request = store.create_request(new, locks_of(new), T0)
    assert store.claim_for_run(request.id, at(1), owner=owner)
    return request.id


def test_a_run_whose_runner_stopped_renewing_is_interrupted_at_the_second_sweep_that_sees_it_lapsed(
    sql_store: SqlStore,
) -> None:
    request_id = _running(sql_store, owner="machine-a/4242")
    liveness = SqlLiveness(sql_store)
    liveness.renew(request_id, "machine-a/4242", at(1), ttl_s=20)
    sweeper = LapsedRuns(liveness)

    assert sweeper.reap(sql_store, at(1) + timedelta(seconds=10)) == []  # alive: not lapsed yet
    assert sweeper.reap(sql_store, at(2)) == []  # lapsed, seen once: its runner may be renewing right now
    assert sql_store.get(request_id).state is RequestState.RUNNING
    assert sweeper.reap(sql_store, at(3)) == [request_id]

    interrupted = sql_store.get(request_id)
    assert interrupted.state is RequestState.INTERRUPTED
    event = [e for e in sql_store.audit(request_id=request_id) if e.action is AuditAction.INTERRUPTED][-1]
    assert event.details["owner"] == "machine-a/4242"
    assert liveness.lapsed(at(4)) == {}, "its record is removed with it"


def test_a_runner_that_renews_between_two_sweeps_is_left_running(sql_store: SqlStore) -> None:
    request_id = _running(sql_store, owner="machine-a/4242")
    liveness = SqlLiveness(sql_store)
    liveness.renew(request_id, "machine-a/4242", at(1), ttl_s=20)
    sweeper = LapsedRuns(liveness)

    assert sweeper.reap(sql_store, at(2)) == []  # lapsed once (the store was away, say)
    liveness.renew(request_id, "machine-a/4242", at(2), ttl_s=20)  # the runner is back first
    assert sweeper.reap(sql_store, at(2) + timedelta(seconds=30)) == []  # lapsed again, but a new expiry
    assert sql_store.get(request_id).state is RequestState.RUNNING


def test_the_lapsed_record_of_a_run_that_ended_is_removed_and_the_request_left_as_it_ended(
    sql_store: SqlStore,
) -> None:
    request_id = _running(sql_store, owner="machine-a/4242")
    liveness = SqlLiveness(sql_store)
    liveness.renew(request_id, "machine-a/4242", at(1), ttl_s=20)
    assert sql_store.finish(request_id, RequestState.SUCCEEDED, {"hosts": []}, at(1))
    sweeper = LapsedRuns(liveness)

    assert sweeper.reap(sql_store, at(2)) == []
    assert sweeper.reap(sql_store, at(3)) == []
    assert sql_store.get(request_id).state is RequestState.SUCCEEDED
    assert liveness.lapsed(at(4)) == {}


def test_only_the_lapsed_run_is_interrupted_not_the_other_runs_of_the_same_owner(sql_store: SqlStore) -> None:
    stale = _running(sql_store, owner="replica-a")
    other = new_request(site="intranet", pool="IntranetPool", hosts=("web03",), approvals_needed=0)
    fresh = sql_store.create_request(other, locks_of(other), T0).id
    assert sql_store.claim_for_run(fresh, at(1), owner="replica-a")
    liveness = SqlLiveness(sql_store)
    liveness.renew(stale, "replica-a", at(1), ttl_s=20)
    liveness.renew(fresh, "replica-a", at(3), ttl_s=600)
    sweeper = LapsedRuns(liveness)

    sweeper.reap(sql_store, at(2))
    assert sweeper.reap(sql_store, at(3)) == [stale]
    assert sql_store.get(fresh).state is RequestState.RUNNING
