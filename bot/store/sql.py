"""SqlStore: requests, approvals, per-(host, pool) locks and the audit trail in SQLite or PostgreSQL.

Every public method is one transaction. Whatever must be exactly-once (an approval completing a
request, a claim to run it) is a conditional change of the request's row while that row is locked
(`SELECT ... FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), so it holds across threads,
processes and replicas. Every state change writes its audit event in the same transaction; the
structlog line for it is emitted after the commit.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.app.records import (
    FINISHED_STATES,
    Approval,
    ApprovalOutcome,
    ApprovalStatus,
    AuditAction,
    AuditEvent,
    LockKey,
    NewRequest,
    Request,
    RequestState,
)
from bot.store.database import WRITE_OPTION, create_store_engine, parse_url, safe_url
from bot.store.errors import LockHeld, SelfApproval, StoreUnavailable, UnknownRequest
from bot.store.migrate import upgrade_to_head
from bot.store.schema import approvals, audit_events, request_locks, requests
from commands.rungs import Rung

T = TypeVar("T")
RequestIds = list[str]
Requests = list[Request]
AuditEvents = list[AuditEvent]

SYSTEM_ACTOR = "aspreset"
DEFAULT_DB = Path(".aspreset") / "aspreset.db"
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lowercase: no 0/1/8/9 to misread
ID_LENGTH = 6
_ATTEMPTS = 8  # id collisions, lock-insert races, PostgreSQL deadlock/serialization retries
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})

_log = structlog.get_logger("aspreset.store")


def new_request_id() -> str:
    return "r-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def open_store(url: str | None, workdir: Path) -> SqlStore:
    """The store the bot uses: `url` if given (sqlite:///PATH or postgresql+psycopg://...), else the
    SQLite file `.aspreset/aspreset.db` under `workdir`. Migrates the schema to head."""
    if not url:
        path = (workdir / DEFAULT_DB).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return SqlStore(url)


@dataclass
class _Unit:
    """One transaction in progress and the audit events it wrote (logged once it commits)."""

    conn: Connection
    events: list[AuditEvent] = field(default_factory=list)


class SqlStore:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = parse_url(url)
        self._engine = create_store_engine(self.url)
        if migrate:
            self._guard(lambda: upgrade_to_head(self._engine))

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.safe_url!r})"

    # -- requests ------------------------------------------------------------------------------

    def create_request(self, new: NewRequest, locks: Iterable[LockKey], now: datetime) -> Request:
        """Record `new` and take all its (host, pool) locks, or nothing: if another live request holds
        one, raise LockHeld naming it. State: `awaiting_approval` if it needs approvals, else
        `approved`."""
        _check_now(now)
        wanted = {key.normalized: key for key in locks}
        state = RequestState.APPROVED if new.approvals_needed == 0 else RequestState.AWAITING_APPROVAL

        def work(unit: _Unit) -> Request:
            self._check_locks_free(unit.conn, wanted)
            request_id = new_request_id()
            self._insert_request(unit.conn, request_id, new, state, now)
            for host, pool in sorted(wanted):  # one order everywhere: no lock-order deadlocks
                unit.conn.execute(insert(request_locks).values(host=host, pool=pool, request_id=request_id, since=now))
            row = self._row(unit.conn, request_id)
            self._audit(
                unit,
                row,
                AuditAction.REQUESTED,
                actor=new.requester,
                state_from=None,
                state_to=state,
                now=now,
                details={
                    "origin": new.origin,
                    "reason": new.reason,
                    "requester_person": new.requester_person,
                    "pool": new.pool,
                    "approvals_needed": new.approvals_needed,
                    "approvers": list(new.approvers),
                    "expires_at": _iso(new.expires_at),
                    "decision": dict(new.decision),
                    "locks": [{"host": key.host, "pool": key.pool} for key in wanted.values()],
                },
            )
            return self._load(unit.conn, request_id)

        # an IntegrityError here is a lost race for a lock row (or an id collision): the retry
        # sees the winner's lock and raises LockHeld, or succeeds with a fresh id
        return self._run(work, write=True, retry_integrity=True)

    def record_refused(self, new: NewRequest, reason: str, now: datetime) -> Request:
        """Record a request the policy (or a held lock) refused: state `refused`, no locks."""
        _check_now(now)

        def work(unit: _Unit) -> Request:
            request_id = new_request_id()
            self._insert_request(unit.conn, request_id, new, RequestState.REFUSED, now, deny_reason=reason)
            row = self._row(unit.conn, request_id)
            self._audit(
                unit,
                row,
                AuditAction.REFUSED,
                actor=new.requester,
                state_from=None,
                state_to=RequestState.REFUSED,
                now=now,
                details={
                    "origin": new.origin,
                    "reason": reason,
                    "request_reason": new.reason,
                    "pool": new.pool,
                    "decision": dict(new.decision),
                },
            )
            return self._load(unit.conn, request_id)

        return self._run(work, write=True, retry_integrity=True)

    def get(self, request_id: str) -> Request:
        return self._run(lambda unit: self._load(unit.conn, request_id), write=False)

    def list(self, state: RequestState | None = None, site: str | None = None, limit: int = 100) -> Requests:
        """Newest first."""

        def work(unit: _Unit) -> Requests:
            query = select(requests).order_by(requests.c.created_at.desc(), requests.c.id).limit(limit)
            if state is not None:
                query = query.where(requests.c.state == RequestState(state).value)
            if site is not None:
                query = query.where(requests.c.site == site)
            rows = unit.conn.execute(query).all()
            by_request = self._approvals(unit.conn, [row.id for row in rows])
            return [_to_request(row, by_request.get(row.id, ())) for row in rows]

        return self._run(work, write=False)

    # -- approvals -----------------------------------------------------------------------------

    def add_approval(self, request_id: str, approver: str, now: datetime) -> ApprovalOutcome:
        """Count `approver`'s approval, once. Exactly one caller, across processes, sees
        `became_approved`: the one whose approval reached `approvals_needed`. An approval at or after
        `expires_at` expires the request instead. Raises SelfApproval if the approver is the
        requester (by id or person); whether the approver may approve at all is the policy's call."""
        _check_now(now)
        if not approver:
            raise ValueError("approver must be a non-empty id")

        def work(unit: _Unit) -> ApprovalOutcome:
            row = self._locked_row(unit.conn, request_id)
            if approver in (row.requester, row.requester_person):
                raise SelfApproval(request_id, approver)
            state = RequestState(row.state)
            given = self._approvals(unit.conn, [request_id]).get(request_id, ())

            def outcome(status: ApprovalStatus, after: RequestState, became: bool = False) -> ApprovalOutcome:
                return ApprovalOutcome(status, after, given, row.approvals_needed, became)

            if state is not RequestState.AWAITING_APPROVAL:
                return outcome(ApprovalStatus.NOT_AWAITING, state)
            if row.expires_at is not None and now >= row.expires_at:
                self._transition(
                    unit,
                    row,
                    RequestState.EXPIRED,
                    AuditAction.EXPIRED,
                    actor=SYSTEM_ACTOR,
                    now=now,
                    details={"expires_at": _iso(row.expires_at), "late_approver": approver},
                )
                return outcome(ApprovalStatus.EXPIRED, RequestState.EXPIRED)
            if any(approval.approver == approver for approval in given):
                return outcome(ApprovalStatus.DUPLICATE, state)

            unit.conn.execute(
                insert(approvals).values(
                    request_id=request_id,
                    approver=approver,
                    requester=row.requester,
                    requester_person=row.requester_person,
                    at=now,
                )
            )
            given = (*given, Approval(approver, now))
            details = {
                "approvals": [a.approver for a in given],
                "approvals_needed": row.approvals_needed,
            }
            if len(given) >= row.approvals_needed:
                self._transition(unit, row, RequestState.APPROVED, AuditAction.APPROVED, approver, now, details)
                return outcome(ApprovalStatus.COUNTED, RequestState.APPROVED, became=True)
            unit.conn.execute(update(requests).where(requests.c.id == request_id).values(updated_at=now))
            self._audit(unit, row, AuditAction.APPROVAL, approver, state, state, now, details)
            return outcome(ApprovalStatus.COUNTED, state)

        return self._run(work, write=True)

    # -- running -------------------------------------------------------------------------------

    def claim_for_run(self, request_id: str, now: datetime, owner: str | None = None) -> bool:
        """approved -> running. True for exactly one caller across threads, processes and replicas;
        that caller runs it. `owner` names the claiming bot process (see mark_interrupted)."""
        _check_now(now)

        def work(unit: _Unit) -> bool:
            changed = unit.conn.execute(
                update(requests)
                .where(requests.c.id == request_id, requests.c.state == RequestState.APPROVED.value)
                .values(state=RequestState.RUNNING.value, started_at=now, updated_at=now, owner=owner)
            )
            if changed.rowcount != 1:
                self._row(unit.conn, request_id)  # UnknownRequest if there is none
                return False
            row = self._row(unit.conn, request_id)
            self._audit(
                unit,
                row,
                AuditAction.STARTED,
                actor=owner or SYSTEM_ACTOR,
                state_from=RequestState.APPROVED,
                state_to=RequestState.RUNNING,
                now=now,
                details={"owner": owner, "bot_pid": os.getpid(), "bot_host": socket.gethostname()},
            )
            return True

        return self._run(work, write=True)

    def finish(self, request_id: str, state: RequestState, result: Mapping[str, Any], now: datetime) -> bool:
        """running -> succeeded | failed | partially_failed, with the result; releases the locks.
        False if the request was no longer running (e.g. marked interrupted meanwhile): the result is
        then kept in a `late_result` audit event and the state is left alone."""
        _check_now(now)
        state = RequestState(state)
        if state not in FINISHED_STATES:
            raise ValueError(f"finish to {state.value!r}: expected one of {sorted(FINISHED_STATES)}")

        def work(unit: _Unit) -> bool:
            row = self._locked_row(unit.conn, request_id)
            current = RequestState(row.state)
            actor = row.owner or SYSTEM_ACTOR
            if current is not RequestState.RUNNING:
                self._audit(
                    unit,
                    row,
                    AuditAction.LATE_RESULT,
                    actor,
                    current,
                    current,
                    now,
                    {"outcome": state.value, "result": dict(result)},
                )
                return False
            self._transition(
                unit,
                row,
                state,
                AuditAction.FINISHED,
                actor,
                now,
                {"result": dict(result)},
                result=dict(result),
            )
            return True

        return self._run(work, write=True)

    # -- ending without running ----------------------------------------------------------------

    def deny(self, request_id: str, by: str, reason: str, now: datetime) -> bool:
        """awaiting_approval | approved -> denied. False if it was in any other state."""
        return self._end_before_run(
            request_id, RequestState.DENIED, AuditAction.DENIED, by, now, {"reason": reason}, reason
        )

    def cancel(self, request_id: str, by: str, now: datetime) -> bool:
        """awaiting_approval | approved -> cancelled. False if it was in any other state."""
        return self._end_before_run(request_id, RequestState.CANCELLED, AuditAction.CANCELLED, by, now, {}, None)

    def _end_before_run(
        self,
        request_id: str,
        to: RequestState,
        action: AuditAction,
        by: str,
        now: datetime,
        details: dict[str, Any],
        deny_reason: str | None,
    ) -> bool:
        _check_now(now)

        def work(unit: _Unit) -> bool:
            row = self._locked_row(unit.conn, request_id)
            if RequestState(row.state) not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
                return False
            values = {} if deny_reason is None else {"deny_reason": deny_reason}
            self._transition(unit, row, to, action, by, now, details, **values)
            return True

        return self._run(work, write=True)

    def expire_due(self, now: datetime) -> RequestIds:
        """awaiting_approval with expires_at <= now -> expired (locks released). Returns their ids."""
        _check_now(now)

        def work(unit: _Unit) -> RequestIds:
            rows = unit.conn.execute(
                select(requests)
                .where(
                    requests.c.state == RequestState.AWAITING_APPROVAL.value,
                    requests.c.expires_at <= now,
                )
                .order_by(requests.c.created_at, requests.c.id)
                .with_for_update()
            ).all()
            for row in rows:
                self._transition(
                    unit,
                    row,
                    RequestState.EXPIRED,
                    AuditAction.EXPIRED,
                    SYSTEM_ACTOR,
                    now,
                    {"expires_at": _iso(row.expires_at)},
                )
            return [row.id for row in rows]

        return self._run(work, write=True)

    def mark_interrupted(self, now: datetime, owner: str | None = None) -> RequestIds:
        """At start: requests found running -> interrupted (locks released; never re-run). With
        `owner`, only those that owner claimed (one replica restarting leaves the others' alone)."""
        _check_now(now)

        def work(unit: _Unit) -> RequestIds:
            query = select(requests).where(requests.c.state == RequestState.RUNNING.value)
            if owner is not None:
                query = query.where(requests.c.owner == owner)
            rows = unit.conn.execute(query.order_by(requests.c.started_at, requests.c.id).with_for_update()).all()
            for row in rows:
                self._transition(
                    unit,
                    row,
                    RequestState.INTERRUPTED,
                    AuditAction.INTERRUPTED,
                    SYSTEM_ACTOR,
                    now,
                    {"owner": row.owner, "started_at": _iso(row.started_at), "noticed_by_pid": os.getpid()},
                )
            return [row.id for row in rows]

        return self._run(work, write=True)

    # -- reading -------------------------------------------------------------------------------

    def audit(
        self,
        site: str | None = None,
        since: datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> AuditEvents:
        """Events oldest first (with `limit`: the newest `limit`, still oldest first)."""
        if since is not None:
            _check_now(since)

        def work(unit: _Unit) -> AuditEvents:
            query = select(audit_events)
            if site is not None:
                query = query.where(audit_events.c.site == site)
            if since is not None:
                query = query.where(audit_events.c.at >= since)
            if request_id is not None:
                query = query.where(audit_events.c.request_id == request_id)
            if limit is not None:
                query = query.order_by(audit_events.c.id.desc()).limit(limit)
                rows = list(reversed(unit.conn.execute(query).all()))
            else:
                rows = list(unit.conn.execute(query.order_by(audit_events.c.id)).all())
            return [_to_event(row) for row in rows]

        return self._run(work, write=False)

    def count_worker_kills(self, host: str, pool: str, since: datetime) -> int:
        """Requests of rung `worker` on (host, pool) that reached running at or after `since`."""
        _check_now(since)
        key = LockKey(host, pool).normalized

        def work(unit: _Unit) -> int:
            rows = unit.conn.execute(
                select(requests.c.hosts, requests.c.pool).where(
                    requests.c.rung == Rung.WORKER.value, requests.c.started_at >= since
                )
            ).all()
            return sum(
                1 for row in rows if row.pool.casefold() == key[1] and key[0] in {h.casefold() for h in row.hosts}
            )

        return self._run(work, write=False)

    # -- internals -----------------------------------------------------------------------------

    def _run(self, work: Callable[[_Unit], T], *, write: bool, retry_integrity: bool = False) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._engine.connect() as conn:
                    if write:
                        conn.execution_options(**{WRITE_OPTION: True})
                    unit = _Unit(conn)
                    with conn.begin():
                        value = work(unit)
            except IntegrityError:
                if retry_integrity and attempt < _ATTEMPTS:
                    continue
                raise
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES and attempt < _ATTEMPTS:
                    continue
                raise self._unavailable(exc) from exc
            except PoolTimeout as exc:
                raise self._unavailable(exc) from exc
            for event in unit.events:
                _log_audit(event)
            return value

    def _guard(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: SQLAlchemyError) -> StoreUnavailable:
        original = getattr(exc, "orig", None) or exc
        first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
        return StoreUnavailable(
            f"database {self.safe_url}: {type(original).__name__}: {first_line}"
            " (is the server running and the URL right? `aspreset doctor` checks it)"
        )

    def _check_locks_free(self, conn: Connection, wanted: Mapping[tuple[str, str], LockKey]) -> None:
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
            )
            .join(requests, requests.c.id == request_locks.c.request_id)
            .where(or_(*(and_(request_locks.c.host == h, request_locks.c.pool == p) for h, p in wanted)))
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
            raise LockHeld(key.host, key.pool, row.id, row.requester, row.since)

    def _insert_request(
        self,
        conn: Connection,
        request_id: str,
        new: NewRequest,
        state: RequestState,
        now: datetime,
        deny_reason: str | None = None,
    ) -> None:
        if new.expires_at is not None:
            _check_now(new.expires_at)
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

    def _row(self, conn: Connection, request_id: str) -> Row[Any]:
        row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
        if row is None:
            raise UnknownRequest(request_id)
        return row

    def _locked_row(self, conn: Connection, request_id: str) -> Row[Any]:
        row = conn.execute(select(requests).where(requests.c.id == request_id).with_for_update()).first()
        if row is None:
            raise UnknownRequest(request_id)
        return row

    def _load(self, conn: Connection, request_id: str) -> Request:
        row = self._row(conn, request_id)
        return _to_request(row, self._approvals(conn, [request_id]).get(request_id, ()))

    def _approvals(self, conn: Connection, request_ids: Iterable[str]) -> dict[str, tuple[Approval, ...]]:
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

    def _transition(
        self,
        unit: _Unit,
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
        self._audit(unit, row, action, actor, RequestState(row.state), to, now, details)

    def _audit(
        self,
        unit: _Unit,
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


def _check_now(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a tz-aware UTC time")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _to_request(row: Row[Any], given: tuple[Approval, ...]) -> Request:
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


def _to_event(row: Row[Any]) -> AuditEvent:
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


def _log_audit(event: AuditEvent) -> None:
    _log.info(
        "audit",
        audit_id=event.id,
        request_id=event.request_id,
        action=event.action.value,
        actor=event.actor,
        state_from=None if event.state_from is None else event.state_from.value,
        state_to=event.state_to.value,
        site=event.site,
        rung=event.rung.value,
        hosts=list(event.hosts),
        details=dict(event.details),
        at=event.at.isoformat(),
    )


__all__ = ["DEFAULT_DB", "SqlStore", "new_request_id", "open_store"]
