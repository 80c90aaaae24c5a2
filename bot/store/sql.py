"""SqlStore: requests, approvals, per-(host, pool) locks and the audit trail in SQLite or PostgreSQL.

Every public method is one transaction (bot/store/sql_unit.py). Whatever must be exactly-once (an
approval completing a request, a claim to run it) is a conditional change of the request's row
while that row is locked (`SELECT ... FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), so it
holds across threads, processes and replicas. Every state change writes its audit event in the same
transaction (bot/store/sql_rows.py); the structlog line for it is emitted after the commit. The
details each event records and the id format are shared with the in-memory store
(bot/store/rules.py).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, insert, select, update

from bot.app.errors import SelfApproval
from bot.app.ports import Store
from bot.app.records import (
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
from bot.store import rules
from bot.store.database import create_store_engine, parse_url, safe_url
from bot.store.migrate import upgrade_to_head
from bot.store.rules import SYSTEM_ACTOR, check_aware, new_request_id
from bot.store.schema import approvals, audit_events, request_locks, requests
from bot.store.sql_rows import (
    approvals_of,
    check_locks_free,
    insert_request,
    load_request,
    locked_request_row,
    request_row,
    to_event,
    to_request,
    transition,
    write_audit,
)
from bot.store.sql_unit import Unit, guarded, run_unit
from commands.rungs import Rung

T = TypeVar("T")
RequestIds = list[str]
Requests = list[Request]
AuditEvents = list[AuditEvent]

DEFAULT_DB = Path(".aspreset") / "aspreset.db"


def open_store(url: str | None, workdir: Path) -> SqlStore:
    """The store the bot uses: `url` if given (sqlite:///PATH or postgresql+psycopg://...), else the
    SQLite file `.aspreset/aspreset.db` under `workdir` (settings normally give the URL: bot/config.py
    finds one database per config file). Creates a SQLite file's folder; migrates the schema to head."""
    if not url:
        url = f"sqlite:///{(workdir / DEFAULT_DB).resolve()}"
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # SQLite makes the file, not its folder
    return SqlStore(url)


class SqlStore:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = parse_url(url)
        self._engine = create_store_engine(self.url)
        if migrate:
            guarded(self.safe_url, lambda: upgrade_to_head(self._engine))

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @property
    def engine(self) -> Engine:
        """For the other tables in this database (bot/store/shared.py)."""
        return self._engine

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
        check_aware(now)
        wanted = {key.normalized: key for key in locks}
        state = rules.initial_state(new)

        def work(unit: Unit) -> Request:
            check_locks_free(unit.conn, wanted)
            request_id = new_request_id()
            insert_request(unit.conn, request_id, new, state, now)
            # one statement for every lock (a 200-host site in one round trip), in one order
            # everywhere: no lock-order deadlocks
            rows = [dict(host=host, pool=pool, request_id=request_id, since=now) for host, pool in sorted(wanted)]
            if rows:
                unit.conn.execute(insert(request_locks), rows)
            row = request_row(unit.conn, request_id)
            details = rules.requested_details(new, wanted.values())
            write_audit(unit, row, AuditAction.REQUESTED, new.requester, None, state, now, details)
            return load_request(unit.conn, request_id)

        # an IntegrityError here is a lost race for a lock row (or an id collision): the retry
        # sees the winner's lock and raises LockHeld, or succeeds with a fresh id
        return self._run(work, write=True, retry_integrity=True)

    def record_refused(self, new: NewRequest, reason: str, now: datetime) -> Request:
        """Record a request the policy (or a held lock) refused: state `refused`, no locks."""
        check_aware(now)

        def work(unit: Unit) -> Request:
            request_id = new_request_id()
            insert_request(unit.conn, request_id, new, RequestState.REFUSED, now, deny_reason=reason)
            row = request_row(unit.conn, request_id)
            details = rules.refused_details(new, reason)
            write_audit(unit, row, AuditAction.REFUSED, new.requester, None, RequestState.REFUSED, now, details)
            return load_request(unit.conn, request_id)

        return self._run(work, write=True, retry_integrity=True)

    def get(self, request_id: str) -> Request:
        return self._run(lambda unit: load_request(unit.conn, request_id), write=False)

    def list(self, state: RequestState | None = None, site: str | None = None, limit: int = 100) -> Requests:
        """Newest first."""

        def work(unit: Unit) -> Requests:
            query = select(requests).order_by(requests.c.created_at.desc(), requests.c.id).limit(limit)
            if state is not None:
                query = query.where(requests.c.state == RequestState(state).value)
            if site is not None:
                query = query.where(requests.c.site == site)
            rows = unit.conn.execute(query).all()
            by_request = approvals_of(unit.conn, [row.id for row in rows])
            return [to_request(row, by_request.get(row.id, ())) for row in rows]

        return self._run(work, write=False)

    # -- approvals -----------------------------------------------------------------------------

    def add_approval(self, request_id: str, approver: str, now: datetime) -> ApprovalOutcome:
        """Count `approver`'s approval, once. Exactly one caller, across processes, sees
        `became_approved`: the one whose approval reached `approvals_needed`. An approval at or after
        `expires_at` expires the request instead. Raises SelfApproval if the approver is the
        requester (by id or person); whether the approver may approve at all is the policy's call."""
        check_aware(now)
        if not approver:
            raise ValueError("approver must be a non-empty id")

        def work(unit: Unit) -> ApprovalOutcome:
            row = locked_request_row(unit.conn, request_id)
            if approver in (row.requester, row.requester_person):
                raise SelfApproval(request_id, approver)
            state = RequestState(row.state)
            given = approvals_of(unit.conn, [request_id]).get(request_id, ())

            def outcome(status: ApprovalStatus, after: RequestState, became: bool = False) -> ApprovalOutcome:
                return ApprovalOutcome(status, after, given, row.approvals_needed, became)

            if state is not RequestState.AWAITING_APPROVAL:
                return outcome(ApprovalStatus.NOT_AWAITING, state)
            if row.expires_at is not None and now >= row.expires_at:
                details = rules.late_approval_details(row.expires_at, approver)
                transition(unit, row, RequestState.EXPIRED, AuditAction.EXPIRED, SYSTEM_ACTOR, now, details)
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
            details = rules.approval_details(given, row.approvals_needed)
            if len(given) >= row.approvals_needed:
                transition(unit, row, RequestState.APPROVED, AuditAction.APPROVED, approver, now, details)
                return outcome(ApprovalStatus.COUNTED, RequestState.APPROVED, became=True)
            unit.conn.execute(update(requests).where(requests.c.id == request_id).values(updated_at=now))
            write_audit(unit, row, AuditAction.APPROVAL, approver, state, state, now, details)
            return outcome(ApprovalStatus.COUNTED, state)

        return self._run(work, write=True)

    # -- running -------------------------------------------------------------------------------

    def claim_for_run(self, request_id: str, now: datetime, owner: str | None = None) -> bool:
        """approved -> running. True for exactly one caller across threads, processes and replicas;
        that caller runs it. `owner` names the claiming bot process (see mark_interrupted)."""
        check_aware(now)

        def work(unit: Unit) -> bool:
            changed = unit.conn.execute(
                update(requests)
                .where(requests.c.id == request_id, requests.c.state == RequestState.APPROVED.value)
                .values(state=RequestState.RUNNING.value, started_at=now, updated_at=now, owner=owner)
            )
            if changed.rowcount != 1:
                request_row(unit.conn, request_id)  # UnknownRequest if there is none
                return False
            row = request_row(unit.conn, request_id)
            write_audit(
                unit,
                row,
                AuditAction.STARTED,
                owner or SYSTEM_ACTOR,
                RequestState.APPROVED,
                RequestState.RUNNING,
                now,
                rules.started_details(owner),
            )
            return True

        return self._run(work, write=True)

    def finish(self, request_id: str, state: RequestState, result: Mapping[str, Any], now: datetime) -> bool:
        """running -> succeeded | failed | partially_failed, with the result; releases the locks.
        False if the request was no longer running (e.g. marked interrupted meanwhile): the result is
        then kept in a `late_result` audit event and the state is left alone."""
        check_aware(now)
        state = RequestState(state)
        rules.check_finished(state)

        def work(unit: Unit) -> bool:
            row = locked_request_row(unit.conn, request_id)
            current = RequestState(row.state)
            actor = row.owner or SYSTEM_ACTOR
            if current is not RequestState.RUNNING:
                details = rules.late_result_details(state, result)
                write_audit(unit, row, AuditAction.LATE_RESULT, actor, current, current, now, details)
                return False
            details = rules.finished_details(result)
            transition(unit, row, state, AuditAction.FINISHED, actor, now, details, result=dict(result))
            return True

        return self._run(work, write=True)

    def record_hosts(self, request_id: str, known: Mapping[str, Any]) -> bool:
        """While it runs: what is known of its hosts so far, kept as its result (replaced by the
        run's own result when it ends). False once it no longer runs: nothing is changed."""

        def work(unit: Unit) -> bool:
            changed = unit.conn.execute(
                update(requests)
                .where(requests.c.id == request_id, requests.c.state == RequestState.RUNNING.value)
                .values(result=dict(known))
            )
            return changed.rowcount == 1

        return self._run(work, write=True)

    # -- ending without running ----------------------------------------------------------------

    def deny(self, request_id: str, by: str, reason: str, now: datetime) -> bool:
        """awaiting_approval | approved -> denied. False if it was in any other state."""
        details = rules.denied_details(reason)
        return self._end_before_run(request_id, RequestState.DENIED, AuditAction.DENIED, by, now, details, reason)

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
        check_aware(now)

        def work(unit: Unit) -> bool:
            row = locked_request_row(unit.conn, request_id)
            if RequestState(row.state) not in rules.ENDABLE_BEFORE_RUN:
                return False
            values = {} if deny_reason is None else {"deny_reason": deny_reason}
            transition(unit, row, to, action, by, now, details, **values)
            return True

        return self._run(work, write=True)

    def expire_due(self, now: datetime) -> RequestIds:
        """awaiting_approval with expires_at <= now -> expired (locks released). Returns their ids."""
        check_aware(now)

        def work(unit: Unit) -> RequestIds:
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
                details = rules.expired_details(row.expires_at)
                transition(unit, row, RequestState.EXPIRED, AuditAction.EXPIRED, SYSTEM_ACTOR, now, details)
            return [row.id for row in rows]

        return self._run(work, write=True)

    def mark_interrupted(self, now: datetime, owner: str | None = None, request_id: str | None = None) -> RequestIds:
        """At start: requests found running -> interrupted (locks released; never re-run), keeping as
        result what their runs recorded of their hosts (record_hosts). With
        `owner`, only those that owner claimed (one replica restarting leaves the others' alone);
        with `request_id`, only that one (its runner stopped renewing its liveness)."""
        check_aware(now)

        def work(unit: Unit) -> RequestIds:
            query = select(requests).where(requests.c.state == RequestState.RUNNING.value)
            if owner is not None:
                query = query.where(requests.c.owner == owner)
            if request_id is not None:
                query = query.where(requests.c.id == request_id)
            rows = unit.conn.execute(query.order_by(requests.c.started_at, requests.c.id).with_for_update()).all()
            for row in rows:
                details = rules.interrupted_details(row.owner, row.started_at, row.result)
                transition(unit, row, RequestState.INTERRUPTED, AuditAction.INTERRUPTED, SYSTEM_ACTOR, now, details)
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
            check_aware(since)

        def work(unit: Unit) -> AuditEvents:
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
            return [to_event(row) for row in rows]

        return self._run(work, write=False)

    def request_times(self, requester: str, site: str, since: datetime) -> builtins.list[datetime]:
        """When `requester`'s recorded (not refused) requests of `site` were made, at or after `since`."""
        check_aware(since)

        def work(unit: Unit) -> builtins.list[datetime]:
            rows = unit.conn.execute(
                select(requests.c.created_at).where(
                    requests.c.site == site, requests.c.requester == requester, requests.c.created_at >= since,
                    requests.c.state != RequestState.REFUSED.value,
                ).order_by(requests.c.created_at)
            ).all()
            return [row.created_at for row in rows]

        return self._run(work, write=False)

    def count_worker_kills(self, host: str, pool: str, since: datetime) -> int:
        """Requests of rung `worker` on (host, pool) that reached running at or after `since`."""
        check_aware(since)
        key = LockKey(host, pool).normalized

        def work(unit: Unit) -> int:
            rows = unit.conn.execute(
                select(requests.c.hosts, requests.c.pool).where(
                    requests.c.rung == Rung.WORKER.value, requests.c.started_at >= since
                )
            ).all()
            return sum(
                1 for row in rows if row.pool.casefold() == key[1] and key[0] in {h.casefold() for h in row.hosts}
            )

        return self._run(work, write=False)

    def _run(self, work: Callable[[Unit], T], *, write: bool, retry_integrity: bool = False) -> T:
        return run_unit(self._engine, self.safe_url, work, write=write, retry_integrity=retry_integrity)


if TYPE_CHECKING:  # mypy holds the class to the port it implements
    _implements_the_port: Store = SqlStore("")

__all__ = ["DEFAULT_DB", "SqlStore", "new_request_id", "open_store"]
