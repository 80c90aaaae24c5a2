"""The audit trail: one event per state change, written with it, never updated or deleted, and a
structlog event for each.

Tests taking `store` are the Store contract (SQLite, PostgreSQL, memory); those taking `sql_store`
or `store_url` need a database (its constraints, triggers, other processes)."""

from __future__ import annotations

import json

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from store_scenarios import T0, at, locks_of, new_request

from bot.app.ports import Store
from bot.store import AuditAction, LockHeld, RequestState
from bot.store.database import create_store_engine, parse_url
from bot.store.sql import SqlStore
from commands.rungs import Rung

A = RequestState.AWAITING_APPROVAL


def test_every_transition_of_a_request_that_ran_is_an_audit_event(store: Store) -> None:
    new = new_request(rung="worker", approvals_needed=2)
    request = store.create_request(new, locks_of(new), T0)
    store.add_approval(request.id, "U02BOB", at(1))
    store.add_approval(request.id, "U02BOB", at(2))  # a duplicate changes nothing: no event
    store.add_approval(request.id, "U03CAROL", at(3))
    store.claim_for_run(request.id, at(4), owner="bot-a")
    store.claim_for_run(request.id, at(4), owner="bot-b")  # lost the race: no event
    result = {"web1": {"pids_before": [4120], "pids_after": [5532]}}
    store.finish(request.id, RequestState.SUCCEEDED, result, at(5))

    events = store.audit(request_id=request.id)

    assert [(e.action, e.actor, e.state_from, e.state_to, e.at) for e in events] == [
        (AuditAction.REQUESTED, "U01ALICE", None, A, T0),
        (AuditAction.APPROVAL, "U02BOB", A, A, at(1)),
        (AuditAction.APPROVED, "U03CAROL", A, RequestState.APPROVED, at(3)),
        (AuditAction.STARTED, "bot-a", RequestState.APPROVED, RequestState.RUNNING, at(4)),
        (AuditAction.FINISHED, "bot-a", RequestState.RUNNING, RequestState.SUCCEEDED, at(5)),
    ]
    assert all((e.site, e.rung, e.hosts) == ("shop-web", Rung.WORKER, ("web1", "web2")) for e in events)
    assert events[0].details["reason"] == "hung"
    assert events[0].details["origin"] == "slack:C0SHOP"
    assert events[0].details["decision"] == {"kind": "needs_approval", "reasons": ["test"]}
    assert events[2].details["approvals"] == ["U02BOB", "U03CAROL"]
    assert events[3].details["owner"] == "bot-a" and isinstance(events[3].details["bot_pid"], int)
    assert events[4].details["result"] == result
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_requests_that_end_without_running_leave_their_story_too(store: Store) -> None:
    ends = {}
    for host, end in [("w1", "deny"), ("w2", "cancel"), ("w3", "expire"), ("w4", "interrupt")]:
        new = new_request(hosts=(host,), approvals_needed=0 if end == "interrupt" else 1)
        ends[end] = store.create_request(new, locks_of(new), T0).id
    store.deny(ends["deny"], "U02BOB", "not now", at(1))
    store.cancel(ends["cancel"], "U01ALICE", at(1))
    store.expire_due(at(45))
    store.claim_for_run(ends["interrupt"], at(1), owner="bot-a")
    store.mark_interrupted(at(50))
    store.finish(ends["interrupt"], RequestState.SUCCEEDED, {"pids_after": [77]}, at(51))

    def story(request_id: str) -> list[tuple[str, str, str | None, str]]:
        return [
            (e.action.value, e.actor, e.state_from and e.state_from.value, e.state_to.value)
            for e in store.audit(request_id=request_id)
        ]

    assert story(ends["deny"])[1:] == [("denied", "U02BOB", "awaiting_approval", "denied")]
    assert store.audit(request_id=ends["deny"])[1].details == {"reason": "not now"}
    assert story(ends["cancel"])[1:] == [("cancelled", "U01ALICE", "awaiting_approval", "cancelled")]
    assert story(ends["expire"])[1:] == [("expired", "aspreset", "awaiting_approval", "expired")]
    assert story(ends["interrupt"])[1:] == [
        ("started", "bot-a", "approved", "running"),
        ("interrupted", "aspreset", "running", "interrupted"),
        ("late_result", "bot-a", "interrupted", "interrupted"),
    ]
    late = store.audit(request_id=ends["interrupt"])[-1]
    assert late.details == {"outcome": "succeeded", "result": {"pids_after": [77]}}
    assert store.get(ends["interrupt"]).state is RequestState.INTERRUPTED


def test_a_refused_lock_writes_no_event_and_a_recorded_refusal_writes_one(store: Store) -> None:
    new = new_request()
    store.create_request(new, locks_of(new), T0)
    with pytest.raises(LockHeld):
        store.create_request(new, locks_of(new), at(1))
    refused = store.record_refused(new, "locked by U01ALICE", at(1))

    assert [e.action for e in store.audit()] == [AuditAction.REQUESTED, AuditAction.REFUSED]
    assert store.audit()[-1].details["reason"] == "locked by U01ALICE"
    assert store.audit()[-1].request_id == refused.id


def test_audit_filters_by_site_time_and_request(store: Store) -> None:
    shop_new = new_request(approvals_needed=0)
    api_new = new_request(site="api", hosts=("api1",), pool="ApiPool", approvals_needed=0)
    shop = store.create_request(shop_new, locks_of(shop_new), T0)
    api = store.create_request(api_new, locks_of(api_new), at(10))
    store.claim_for_run(shop.id, at(20))

    assert [e.request_id for e in store.audit(site="api")] == [api.id]
    assert [(e.request_id, e.action) for e in store.audit(since=at(10))] == [
        (api.id, AuditAction.REQUESTED),
        (shop.id, AuditAction.STARTED),
    ]
    assert [e.action for e in store.audit(site="shop-web", since=at(15))] == [AuditAction.STARTED]
    assert [e.action for e in store.audit(request_id=shop.id)] == [AuditAction.REQUESTED, AuditAction.STARTED]
    assert [e.request_id for e in store.audit(limit=2)] == [api.id, shop.id]
    assert store.audit(site="nowhere") == []


def test_the_database_refuses_to_update_or_delete_audit_events(sql_store: SqlStore, store_url: str) -> None:
    new = new_request()
    sql_store.create_request(new, locks_of(new), T0)
    engine = create_store_engine(parse_url(store_url))
    statements = ["UPDATE audit_events SET actor = 'nobody'", "DELETE FROM audit_events"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with engine.begin() as conn, pytest.raises(DBAPIError, match="insert-only"):
            conn.execute(text(statement))
    engine.dispose()
    assert [e.actor for e in sql_store.audit()] == ["U01ALICE"]


def test_each_audit_event_is_also_a_structlog_event_after_it_commits(store: Store) -> None:
    new = new_request(approvals_needed=0)
    with structlog.testing.capture_logs() as logs:
        request = store.create_request(new, locks_of(new), T0)
        store.claim_for_run(request.id, at(1), owner="bot-a")
        with pytest.raises(LockHeld):
            store.create_request(new, locks_of(new), at(2))  # rolled back: nothing logged

    audit_logs = [entry for entry in logs if entry["event"] == "audit"]
    assert [(e["action"], e["request_id"], e["state_to"]) for e in audit_logs] == [
        ("requested", request.id, "approved"),
        ("started", request.id, "running"),
    ]
    stored = store.audit()
    assert [e["audit_id"] for e in audit_logs] == [e.id for e in stored]
    assert audit_logs[1]["actor"] == "bot-a"
    assert audit_logs[1]["hosts"] == ["web1", "web2"]
    assert audit_logs[0]["log_level"] == "info"


def test_audit_events_and_requests_render_as_json_ready_dicts(store: Store) -> None:
    new = new_request()
    request = store.create_request(new, locks_of(new), T0)
    store.add_approval(request.id, "U02BOB", at(1))

    as_json = json.loads(json.dumps(store.get(request.id).as_dict()))
    assert as_json["state"] == "approved"
    assert as_json["approvals"] == [{"approver": "U02BOB", "at": "2026-03-02T09:01:00+00:00"}]
    events = json.loads(json.dumps([e.as_dict() for e in store.audit()]))
    assert [e["action"] for e in events] == ["requested", "approved"]
    assert events[0]["at"] == "2026-03-02T09:00:00+00:00"
