"""What every Store implementation shares, so the SQL and the in-memory store behave alike: request
ids, the actor of the bot's own changes, tz-aware time checks, JSON as the stores keep it, the
`details` each audit action records, and the structlog line written for each event after it is
committed. Imports no database library."""

from __future__ import annotations

import enum
import json
import os
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import structlog

from bot.app.records import FINISHED_STATES, Approval, AuditEvent, LockKey, NewRequest, RequestState

SYSTEM_ACTOR = "aspreset"
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lowercase: no 0/1/8/9 to misread
ID_LENGTH = 6
ENDABLE_BEFORE_RUN = frozenset({RequestState.AWAITING_APPROVAL, RequestState.APPROVED})

_log = structlog.get_logger("aspreset.store")


def new_request_id() -> str:
    return "r-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def initial_state(new: NewRequest) -> RequestState:
    """`awaiting_approval` if it needs approvals, else `approved` (claimable at once)."""
    return RequestState.APPROVED if new.approvals_needed == 0 else RequestState.AWAITING_APPROVAL


def check_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a tz-aware UTC time")


def check_finished(state: RequestState) -> None:
    if state not in FINISHED_STATES:
        raise ValueError(f"finish to {state.value!r}: expected one of {sorted(FINISHED_STATES)}")


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: object) -> str:
    """How a store writes a JSON column (plan, decision, result, audit details)."""
    return json.dumps(value, default=_json_default, sort_keys=True)


def json_copy(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` as it comes back from a JSON column: a fresh copy, tuples as lists, times as text."""
    copied: dict[str, Any] = json.loads(json_dumps(value))
    return copied


# -- the details of each audit action -----------------------------------------------------------


def requested_details(new: NewRequest, locks: Iterable[LockKey]) -> dict[str, Any]:
    return {
        "origin": new.origin,
        "reason": new.reason,
        "requester_person": new.requester_person,
        "pool": new.pool,
        "approvals_needed": new.approvals_needed,
        "approvers": list(new.approvers),
        "expires_at": iso(new.expires_at),
        "decision": dict(new.decision),
        "locks": [{"host": key.host, "pool": key.pool} for key in locks],
    }


def refused_details(new: NewRequest, reason: str) -> dict[str, Any]:
    return {
        "origin": new.origin,
        "reason": reason,
        "request_reason": new.reason,
        "pool": new.pool,
        "decision": dict(new.decision),
    }


def approval_details(given: Sequence[Approval], approvals_needed: int) -> dict[str, Any]:
    return {"approvals": [a.approver for a in given], "approvals_needed": approvals_needed}


def late_approval_details(expires_at: datetime | None, approver: str) -> dict[str, Any]:
    return {"expires_at": iso(expires_at), "late_approver": approver}


def expired_details(expires_at: datetime | None) -> dict[str, Any]:
    return {"expires_at": iso(expires_at)}


def started_details(owner: str | None) -> dict[str, Any]:
    return {"owner": owner, "bot_pid": os.getpid(), "bot_host": socket.gethostname()}


def finished_details(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"result": dict(result)}


def late_result_details(outcome: RequestState, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"outcome": outcome.value, "result": dict(result)}


def denied_details(reason: str) -> dict[str, Any]:
    return {"reason": reason}


def interrupted_details(owner: str | None, started_at: datetime | None,
                        known: Mapping[str, Any] | None) -> dict[str, Any]:
    """`known`: what the run had recorded of its hosts (Store.record_hosts), kept in the trail."""
    details = {"owner": owner, "started_at": iso(started_at), "noticed_by_pid": os.getpid()}
    return details if known is None else {**details, "known": dict(known)}


def log_audit(event: AuditEvent) -> None:
    """The structlog line for an audit event; called only once the event is committed."""
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
