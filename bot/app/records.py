"""What the store keeps: requests with their approvals, per-target locks and audit events.

Plain frozen dataclasses; no database types leak out of the store. Timestamps are tz-aware UTC.
`as_dict()` gives JSON-ready dicts for `--json` output and logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from commands.rungs import Rung

JsonDict = Mapping[str, Any]


class RequestState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIALLY_FAILED = "partially_failed"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        """A final request holds no lock and never changes state again."""
        return self not in LIVE_STATES


LIVE_STATES = frozenset({RequestState.AWAITING_APPROVAL, RequestState.APPROVED, RequestState.RUNNING})
FINAL_STATES = frozenset(set(RequestState) - LIVE_STATES)
FINISHED_STATES = frozenset(
    {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.PARTIALLY_FAILED, RequestState.INTERRUPTED}
)  # interrupted: stopped by the operator (Ctrl-C, SIGTERM), with what is known of its hosts


class AuditAction(StrEnum):
    REQUESTED = "requested"  # -> awaiting_approval, or -> approved when no approval is needed
    REFUSED = "refused"
    APPROVAL = "approval"  # one approval counted, more needed (state unchanged)
    APPROVED = "approved"  # the approval that reached the count
    STARTED = "started"  # approved -> running (the one successful claim)
    FINISHED = "finished"  # running -> succeeded | failed | partially_failed
    LATE_RESULT = "late_result"  # a result arrived for a request no longer running (kept, state unchanged)
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"


def _as_tuple(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError("expected a sequence of strings, got one string")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class LockKey:
    """One (host, app pool) target. IIS host and pool names are case-insensitive, so is the lock."""

    host: str
    pool: str

    @property
    def normalized(self) -> tuple[str, str]:
        return (self.host.casefold(), self.pool.casefold())


class Approval(NamedTuple):
    approver: str
    at: datetime


@dataclass(frozen=True)
class NewRequest:
    """A request as the service hands it over. Needs approval iff `approvals_needed > 0`: it is
    recorded `awaiting_approval`, else directly `approved` (claimable at once)."""

    site: str
    rung: Rung
    hosts: tuple[str, ...]
    pool: str
    requester: str  # immutable principal id: U01ALICE, mcp:claude, cli:alice
    origin: str  # slack:C0SHOP, mcp:claude, cli
    plan: JsonDict = field(default_factory=dict)
    decision: JsonDict = field(default_factory=dict)
    approvals_needed: int = 0
    approvers: tuple[str, ...] = ()  # informational: who may approve (ids or groups)
    expires_at: datetime | None = None  # approval deadline
    requester_person: str | None = None  # person alias, for self-approval checks
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hosts", _as_tuple(self.hosts))
        object.__setattr__(self, "approvers", _as_tuple(self.approvers))
        object.__setattr__(self, "rung", Rung(self.rung))
        if self.approvals_needed < 0:
            raise ValueError("approvals_needed must be >= 0")
        if self.approvals_needed and self.expires_at is None:
            raise ValueError("a request that needs approval needs expires_at")

    def default_locks(self) -> tuple[LockKey, ...]:
        """(host, pool) for every host: what a restart of the pool touches."""
        return tuple(LockKey(host, self.pool) for host in self.hosts)


@dataclass(frozen=True)
class Request:
    id: str
    site: str
    rung: Rung
    hosts: tuple[str, ...]
    pool: str
    requester: str
    requester_person: str | None
    origin: str
    reason: str | None
    plan: JsonDict
    decision: JsonDict
    state: RequestState
    approvals_needed: int
    approvers: tuple[str, ...]
    approvals: tuple[Approval, ...]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None  # when it went running
    owner: str | None  # who claimed it for running (a bot process/replica id), if given
    result: JsonDict | None
    deny_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "rung": self.rung.value,
            "hosts": list(self.hosts),
            "pool": self.pool,
            "requester": self.requester,
            "requester_person": self.requester_person,
            "origin": self.origin,
            "reason": self.reason,
            "plan": dict(self.plan),
            "decision": dict(self.decision),
            "state": self.state.value,
            "approvals_needed": self.approvals_needed,
            "approvers": list(self.approvers),
            "approvals": [{"approver": a.approver, "at": a.at.isoformat()} for a in self.approvals],
            "expires_at": _iso(self.expires_at),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "started_at": _iso(self.started_at),
            "owner": self.owner,
            "result": None if self.result is None else dict(self.result),
            "deny_reason": self.deny_reason,
        }


class ApprovalStatus(StrEnum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"  # this approver had already approved: counts once
    NOT_AWAITING = "not_awaiting"  # the request is in another state (see `state`)
    EXPIRED = "expired"  # the approval came after expires_at: the request is now expired


@dataclass(frozen=True)
class ApprovalOutcome:
    status: ApprovalStatus
    state: RequestState  # the request's state after this call
    approvals: tuple[Approval, ...]
    approvals_needed: int
    became_approved: bool = False  # True for exactly one caller: the one whose approval completed it

    @property
    def counted(self) -> bool:
        return self.status is ApprovalStatus.COUNTED

    @property
    def duplicate(self) -> bool:
        return self.status is ApprovalStatus.DUPLICATE

    @property
    def not_awaiting(self) -> bool:
        return self.status is ApprovalStatus.NOT_AWAITING

    @property
    def expired(self) -> bool:
        return self.status is ApprovalStatus.EXPIRED


@dataclass(frozen=True)
class AuditEvent:
    id: int
    request_id: str
    at: datetime
    actor: str
    action: AuditAction
    state_from: RequestState | None
    state_to: RequestState
    site: str
    rung: Rung
    hosts: tuple[str, ...]
    details: JsonDict

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action.value,
            "state_from": None if self.state_from is None else self.state_from.value,
            "state_to": self.state_to.value,
            "site": self.site,
            "rung": self.rung.value,
            "hosts": list(self.hosts),
            "details": dict(self.details),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
