"""Reading and writing SqlStore's rows inside a unit: a request's row (plain or locked for the
rest of the transaction), its approvals, the lock check, the insert of a new request, a state
transition with its audit event, and the conversion of rows to the core's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, tuple_, update

from bot.app.errors import LockHeld, UnknownRequest
from bot.app.records import Approval, AuditAction, AuditEvent, LockKey, NewRequest, Request, RequestState
from bot.store.rules import check_aware
from bot.store.schema import approvals, audit_events, request_locks, requests
from bot.store.sql_unit import Unit
from commands.rungs import Rung


def request_row(conn: Connection, request_id: str) -> Row[Any]:
    row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
    if row is None:
        raise UnknownRequest(request_id)
    return row


def locked_request_row(conn: Connection, request_id: str) -> Row[Any]:
    """The row, locked until the transaction ends (SQLite: the write transaction already is)."""
    row = conn.execute(select(requests).where(requests.c.id == request_id).with_for_update()).first()
    if row is None:
        raise UnknownRequest(request_id)
    return row


def load_request(conn: Connection, request_id: str) -> Request:
    row = request_row(conn, request_id)
    return to_request(row, approvals_of(conn, [request_id]).get(request_id, ()))


def approvals_of(conn: Connection, request_ids: Iterable[str]) -> dict[str, tuple[Approval, ...]]:
    ids = list(request_ids)
    if not ids:
        return {}
    found: dict[str, list[Approval]] = {}
    rows = conn.execute(
        select(approvals.c.request_id, approvals.c.approver, approvals.c.at)
        .where(approvals.c.request_id.in_(ids))
        .order_by(approvals.c.at, approvals.c.approver)
    )
    for row in rows:
        found.setdefault(row.request_id, []).append(Approval(row.approver, row.at))
    return {request_id: tuple(items) for request_id, items in found.items()}


def check_locks_free(conn: Connection, wanted: Mapping[tuple[str, str], LockKey]) -> None:
    """Raise LockHeld for the first wanted (host, pool) a live request holds."""
    if not wanted:
        return
    held = conn.execute(
        select(
            request_locks.c.host,
            request_locks.c.pool,
            request_locks.c.since,
            requests.c.id,
            requests.c.requester,
            requests.c.state,
            requests.c.expires_at,
        )
        .join(requests, requests.c.id == request_locks.c.request_id)
        .where(tuple_(request_locks.c.host, request_locks.c.pool).in_(list(wanted)))  # one IN, any number of hosts
        .order_by(request_locks.c.host, request_locks.c.pool)
    ).all()
    for row in held:
        if RequestState(row.state).is_final:
            # a lock left behind by an ended request is free (ending releases it; belt and braces)
            conn.execute(
                delete(request_locks).where(
                    request_locks.c.host == row.host,
                    request_locks.c.pool == row.pool,
                    request_locks.c.request_id == row.id,
                )
            )
            continue
        key = wanted[(row.host, row.pool)]
        waits = RequestState(row.state) is RequestState.AWAITING_APPROVAL
        raise LockHeld(key.host, key.pool, row.id, row.requester, row.since, until=row.expires_at if waits else None)


def insert_request(
    conn: Connection,
    request_id: str,
    new: NewRequest,
    state: RequestState,
    now: datetime,
    deny_reason: str | None = None,
) -> None:
    if new.expires_at is not None:
        check_aware(new.expires_at)
    conn.execute(
        insert(requests).values(
            id=request_id,
            site=new.site,
            rung=Rung(new.rung).value,
            hosts=list(new.hosts),
            pool=new.pool,
            requester=new.requester,
            requester_person=new.requester_person or "",
            origin=new.origin,
            reason=new.reason,
            plan=dict(new.plan),
            decision=dict(new.decision),
            state=state.value,
            approvals_needed=new.approvals_needed,
            approvers=list(new.approvers),
            expires_at=new.expires_at,
            created_at=now,
            updated_at=now,
            result=None,
            deny_reason=deny_reason,
        )
    )


def transition(
    unit: Unit,
    row: Row[Any],
    to: RequestState,
    action: AuditAction,
    actor: str,
    now: datetime,
    details: Mapping[str, Any],
    **values: Any,
) -> None:
    """Move a row (locked by the caller) from its state to `to`; release its locks if `to` is
    final; write the audit event."""
    changed = unit.conn.execute(
        update(requests)
        .where(requests.c.id == row.id, requests.c.state == row.state)
        .values(state=to.value, updated_at=now, **values)
    )
    if changed.rowcount != 1:  # cannot happen while the row is locked; never write a wrong event
        raise RuntimeError(f"request {row.id} changed state under a row lock")
    if to.is_final:
        unit.conn.execute(delete(request_locks).where(request_locks.c.request_id == row.id))
    write_audit(unit, row, action, actor, RequestState(row.state), to, now, details)


def write_audit(
    unit: Unit,
    row: Row[Any],
    action: AuditAction,
    actor: str,
    state_from: RequestState | None,
    state_to: RequestState,
    now: datetime,
    details: Mapping[str, Any],
) -> None:
    values = {
        "request_id": row.id,
        "at": now,
        "actor": actor,
        "action": action.value,
        "state_from": None if state_from is None else state_from.value,
        "state_to": state_to.value,
        "site": row.site,
        "rung": row.rung,
        "hosts": list(row.hosts),
        "details": dict(details),
    }
    event_id = unit.conn.execute(insert(audit_events).values(**values).returning(audit_events.c.id)).scalar_one()
    unit.events.append(
        AuditEvent(
            id=int(event_id),
            request_id=row.id,
            at=now,
            actor=actor,
            action=action,
            state_from=state_from,
            state_to=state_to,
            site=row.site,
            rung=Rung(row.rung),
            hosts=tuple(row.hosts),
            details=dict(details),
        )
    )


def to_request(row: Row[Any], given: tuple[Approval, ...]) -> Request:
    return Request(
        id=row.id,
        site=row.site,
        rung=Rung(row.rung),
        hosts=tuple(row.hosts),
        pool=row.pool,
        requester=row.requester,
        requester_person=row.requester_person or None,
        origin=row.origin,
        reason=row.reason,
        plan=row.plan,
        decision=row.decision,
        state=RequestState(row.state),
        approvals_needed=row.approvals_needed,
        approvers=tuple(row.approvers),
        approvals=given,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        owner=row.owner,
        result=row.result,
        deny_reason=row.deny_reason,
    )


def to_event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=int(row.id),
        request_id=row.request_id,
        at=row.at,
        actor=row.actor,
        action=AuditAction(row.action),
        state_from=None if row.state_from is None else RequestState(row.state_from),
        state_to=RequestState(row.state_to),
        site=row.site,
        rung=Rung(row.rung),
        hosts=tuple(row.hosts),
        details=row.details,
    )
