"""Requests, approvals, per-(host, pool) locks and the audit trail: SQLite by default, PostgreSQL
for several replicas; MemoryStore (the same contract in one process's memory) for the service's
tests. `open_store(url, workdir)` is the entry point; the records, the core's store errors and
MemoryStore import without SQLAlchemy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.app.errors import LockHeld, SelfApproval, StoreUnavailable, UnknownRequest
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
from bot.store.memory import MemoryStore

if TYPE_CHECKING:
    from bot.store.sql import SqlStore, open_store

__all__ = [
    "Approval",
    "ApprovalOutcome",
    "ApprovalStatus",
    "AuditAction",
    "AuditEvent",
    "LockHeld",
    "LockKey",
    "MemoryStore",
    "NewRequest",
    "Request",
    "RequestState",
    "SelfApproval",
    "SqlStore",
    "StoreUnavailable",
    "UnknownRequest",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name in ("SqlStore", "open_store"):
        from bot.store import sql

        return getattr(sql, name)
    raise AttributeError(f"module 'bot.store' has no attribute {name!r}")
