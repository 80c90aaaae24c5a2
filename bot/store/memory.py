"""MemoryStore: the Store port in one process's memory, for the service's tests and front ends' tests
that need no database. It keeps SqlStore's semantics (the same contract tests run on both):
locks taken when a request is recorded, or LockHeld and nothing recorded; exactly one caller sees
an approval complete a request and exactly one claims it, whatever the number of threads; no
self-approval; expiry by the clock it is given; interrupted marking; an insert-only audit trail
with the same details (bot/store/rules.py) and a structlog line per event after it is "committed".

One lock around each method makes it one transaction; every check runs before the first change,
so a refused call changes nothing. Nothing outlives the process: SqlStore is the bot's store.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bot.app.errors import LockHeld, SelfApproval, UnknownRequest
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
from bot.store.rules import SYSTEM_ACTOR, check_aware, json_copy, new_request_id
from commands.rungs import Rung

LockHolder = tuple[str, datetime]  # (request id, since)


def _utc(value: datetime) -> datetime:
    check_aware(value)
    return value.astimezone(UTC)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Request] = {}
        self._locks: dict[tuple[str, str], LockHolder] = {}
        self._events: list[AuditEvent] = []

    @property
    def backend(self) -> str:
        return "memory"

    def close(self) -> None:
        return None

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------

    def create_request(self, new: NewRequest, locks: Iterable[LockKey], now: datetime) -> Request:
        """Record `new` and take all its (host, pool) locks, or raise LockHeld and record nothing."""
        now = _utc(now)
        wanted = {key.normalized: key for key in locks}
        state = rules.initial_state(new)
        with self._unit() as written:
            for normalized in sorted(wanted):  # the same holder is named as SqlStore names
                holder = self._locks.get(normalized)
                if holder is not None:
                    held_by = self._requests[holder[0]]
                    key = wanted[normalized]
                    waits = held_by.state is RequestState.AWAITING_APPROVAL
                    raise LockHeld(key.host, key.pool, held_by.id, held_by.requester, holder[1],
                                   until=held_by.expires_at if waits else None)
            request = self._insert(new, state, now)
            for normalized in wanted:
                self._locks[normalized] = (request.id, now)
            details = rules.requested_details(new, wanted.values())
            self._audit(written, request, AuditAction.REQUESTED, new.requester, None, state, now, details)
            return self._fresh(request)

    def record_refused(self, new: NewRequest, reason: str, now: datetime) -> Request:
        """Record a request the policy (or a held lock) refused: state `refused`, no locks."""
        now = _utc(now)
        with self._unit() as written:
            request = self._insert(new, RequestState.REFUSED, now, deny_reason=reason)
            details = rules.refused_details(new, reason)
            self._audit(written, request, AuditAction.REFUSED, new.requester, None, RequestState.REFUSED, now, details)
            return self._fresh(request)

    def get(self, request_id: str) -> Request:
        with self._lock:
            return self._fresh(self._known(request_id))

    def list(
        self, state: RequestState | None = None, site: str | None = None, limit: int = 100
    ) -> builtins.list[Request]:
        """Newest first."""
        wanted_state = None if state is None else RequestState(state)
        with self._lock:
            found = [
                r
                for r in sorted(self._requests.values(), key=lambda r: r.id)
                if (wanted_state is None or r.state is wanted_state) and (site is None or r.site == site)
            ]
            found.sort(key=lambda r: r.created_at, reverse=True)
            return [self._fresh(r) for r in found[:limit]]

    # -- approvals -----------------------------------------------------------------------------

    def add_approval(self, request_id: str, approver: str, now: datetime) -> ApprovalOutcome:
        """Count `approver`'s approval, once; exactly one caller sees `became_approved`. An approval
        at or after `expires_at` expires the request instead. Raises SelfApproval."""
        now = _utc(now)
        if not approver:
            raise ValueError("approver must be a non-empty id")
        with self._unit() as written:
            request = self._known(request_id)
            if approver in (request.requester, request.requester_person):
                raise SelfApproval(request_id, approver)
            given = request.approvals

            def outcome(status: ApprovalStatus, after: RequestState, became: bool = False) -> ApprovalOutcome:
                return ApprovalOutcome(status, after, given, request.approvals_needed, became)

            if request.state is not RequestState.AWAITING_APPROVAL:
                return outcome(ApprovalStatus.NOT_AWAITING, request.state)
            if request.expires_at is not None and now >= request.expires_at:
                details = rules.late_approval_details(request.expires_at, approver)
                self._transition(written, request, RequestState.EXPIRED, AuditAction.EXPIRED, SYSTEM_ACTOR, now,
                                 details)
                return outcome(ApprovalStatus.EXPIRED, RequestState.EXPIRED)
            if any(a.approver == approver for a in given):
                return outcome(ApprovalStatus.DUPLICATE, request.state)

            given = tuple(sorted((*given, Approval(approver, now)), key=lambda a: (a.at, a.approver)))
            details = rules.approval_details(given, request.approvals_needed)
            if len(given) >= request.approvals_needed:
                self._transition(written, request, RequestState.APPROVED, AuditAction.APPROVED, approver, now,
                                 details, approvals=given)
                return outcome(ApprovalStatus.COUNTED, RequestState.APPROVED, became=True)
            counted = self._save(replace(request, approvals=given, updated_at=now))
            self._audit(written, counted, AuditAction.APPROVAL, approver, request.state, request.state, now, details)
            return outcome(ApprovalStatus.COUNTED, request.state)

    # -- running -------------------------------------------------------------------------------

    def claim_for_run(self, request_id: str, now: datetime, owner: str | None = None) -> bool:
        """approved -> running; True for exactly one caller: that caller runs it."""
        now = _utc(now)
        with self._unit() as written:
            request = self._known(request_id)
            if request.state is not RequestState.APPROVED:
                return False
            self._transition(written, request, RequestState.RUNNING, AuditAction.STARTED, owner or SYSTEM_ACTOR, now,
                             rules.started_details(owner), started_at=now, owner=owner)
            return True

    def finish(self, request_id: str, state: RequestState, result: Mapping[str, Any], now: datetime) -> bool:
        """running -> succeeded | failed | partially_failed, with the result; releases the locks.
        False if it was no longer running: the result is kept in a `late_result` audit event."""
        now = _utc(now)
        state = RequestState(state)
        rules.check_finished(state)
        with self._unit() as written:
            request = self._known(request_id)
            actor = request.owner or SYSTEM_ACTOR
            if request.state is not RequestState.RUNNING:
                details = rules.late_result_details(state, result)
                self._audit(written, request, AuditAction.LATE_RESULT, actor, request.state, request.state, now,
                            details)
                return False
            self._transition(written, request, state, AuditAction.FINISHED, actor, now, rules.finished_details(result),
                             result=json_copy(result))
            return True

    def record_hosts(self, request_id: str, known: Mapping[str, Any]) -> bool:
        """While it runs: what is known of its hosts so far, kept as its result. False once it no
        longer runs."""
        with self._unit():
            request = self._known(request_id)
            if request.state is not RequestState.RUNNING:
                return False
            self._save(replace(request, result=json_copy(known)))
            return True

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
        now = _utc(now)
        with self._unit() as written:
            request = self._known(request_id)
            if request.state not in rules.ENDABLE_BEFORE_RUN:
                return False
            changes = {} if deny_reason is None else {"deny_reason": deny_reason}
            self._transition(written, request, to, action, by, now, details, **changes)
            return True

    def expire_due(self, now: datetime) -> builtins.list[str]:
        """awaiting_approval with expires_at <= now -> expired (locks released). Returns their ids."""
        now = _utc(now)
        with self._unit() as written:
            due = sorted(
                (
                    r
                    for r in self._requests.values()
                    if r.state is RequestState.AWAITING_APPROVAL and r.expires_at is not None and r.expires_at <= now
                ),
                key=lambda r: (r.created_at, r.id),
            )
            for request in due:
                details = rules.expired_details(request.expires_at)
                self._transition(written, request, RequestState.EXPIRED, AuditAction.EXPIRED, SYSTEM_ACTOR, now,
                                 details)
            return [r.id for r in due]

    def mark_interrupted(
        self, now: datetime, owner: str | None = None, request_id: str | None = None
    ) -> builtins.list[str]:
        """Requests found running -> interrupted (locks released; never re-run). With `owner`, only
        those that owner claimed; with `request_id`, only that one."""
        now = _utc(now)
        with self._unit() as written:
            running = sorted(
                (
                    r
                    for r in self._requests.values()
                    if r.state is RequestState.RUNNING and (owner is None or r.owner == owner)
                    and (request_id is None or r.id == request_id)
                ),
                key=lambda r: (r.started_at or now, r.id),
            )
            for request in running:
                details = rules.interrupted_details(request.owner, request.started_at, request.result)
                self._transition(written, request, RequestState.INTERRUPTED, AuditAction.INTERRUPTED, SYSTEM_ACTOR,
                                 now, details)
            return [r.id for r in running]

    # -- reading -------------------------------------------------------------------------------

    def audit(
        self,
        site: str | None = None,
        since: datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[AuditEvent]:
        """Events oldest first (with `limit`: the newest `limit`, still oldest first)."""
        since = None if since is None else _utc(since)
        with self._lock:
            found = [
                e
                for e in self._events
                if (site is None or e.site == site)
                and (since is None or e.at >= since)
                and (request_id is None or e.request_id == request_id)
            ]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return [replace(e, details=json_copy(e.details)) for e in found]

    def request_times(self, requester: str, site: str, since: datetime) -> builtins.list[datetime]:
        """When `requester`'s recorded (not refused) requests of `site` were made, at or after `since`."""
        since = _utc(since)
        with self._lock:
            return sorted(r.created_at for r in self._requests.values()
                          if r.requester == requester and r.site == site and r.created_at >= since
                          and r.state is not RequestState.REFUSED)

    def count_worker_kills(self, host: str, pool: str, since: datetime) -> int:
        """Requests of rung `worker` on (host, pool) that reached running at or after `since`."""
        since = _utc(since)
        wanted_host, wanted_pool = LockKey(host, pool).normalized
        with self._lock:
            return sum(
                1
                for r in self._requests.values()
                if r.rung is Rung.WORKER
                and r.started_at is not None
                and r.started_at >= since
                and r.pool.casefold() == wanted_pool
                and wanted_host in {h.casefold() for h in r.hosts}
            )

    # -- internals -----------------------------------------------------------------------------

    @contextmanager
    def _unit(self) -> Iterator[builtins.list[AuditEvent]]:
        """One "transaction": the store's lock held; the audit events written are logged after it
        is let go, and only if the work did not raise."""
        written: builtins.list[AuditEvent] = []
        with self._lock:
            yield written
        for event in written:
            rules.log_audit(event)

    def _known(self, request_id: str) -> Request:
        request = self._requests.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    def _insert(self, new: NewRequest, state: RequestState, now: datetime, deny_reason: str | None = None) -> Request:
        expires_at = None if new.expires_at is None else _utc(new.expires_at)
        request_id = new_request_id()
        while request_id in self._requests:
            request_id = new_request_id()
        return self._save(
            Request(
                id=request_id,
                site=new.site,
                rung=Rung(new.rung),
                hosts=tuple(new.hosts),
                pool=new.pool,
                requester=new.requester,
                requester_person=new.requester_person or None,
                origin=new.origin,
                reason=new.reason,
                plan=json_copy(new.plan),
                decision=json_copy(new.decision),
                state=state,
                approvals_needed=new.approvals_needed,
                approvers=tuple(new.approvers),
                approvals=(),
                expires_at=expires_at,
                created_at=now,
                updated_at=now,
                started_at=None,
                owner=None,
                result=None,
                deny_reason=deny_reason,
            )
        )

    def _save(self, request: Request) -> Request:
        self._requests[request.id] = request
        return request

    def _transition(
        self,
        written: builtins.list[AuditEvent],
        request: Request,
        to: RequestState,
        action: AuditAction,
        actor: str,
        now: datetime,
        details: Mapping[str, Any],
        **changes: Any,
    ) -> None:
        """Move a request from its state to `to`; release its locks if `to` is final; write the
        audit event."""
        moved = self._save(replace(request, state=to, updated_at=now, **changes))
        if to.is_final:
            for key in [k for k, (holder, _) in self._locks.items() if holder == request.id]:
                del self._locks[key]
        self._audit(written, moved, action, actor, request.state, to, now, details)

    def _audit(
        self,
        written: builtins.list[AuditEvent],
        request: Request,
        action: AuditAction,
        actor: str,
        state_from: RequestState | None,
        state_to: RequestState,
        now: datetime,
        details: Mapping[str, Any],
    ) -> None:
        event = AuditEvent(
            id=len(self._events) + 1,  # insert-only: the count is the last id
            request_id=request.id,
            at=now,
            actor=actor,
            action=action,
            state_from=state_from,
            state_to=state_to,
            site=request.site,
            rung=request.rung,
            hosts=tuple(request.hosts),
            details=json_copy(details),
        )
        self._events.append(event)
        written.append(event)

    @staticmethod
    def _fresh(request: Request) -> Request:
        """A copy whose JSON fields the caller may change without changing the store."""
        return replace(
            request,
            plan=json_copy(request.plan),
            decision=json_copy(request.decision),
            result=None if request.result is None else json_copy(request.result),
        )


if TYPE_CHECKING:  # mypy holds the class to the port it implements
    _implements_the_port: Store = MemoryStore()

__all__ = ["MemoryStore"]
