"""One SqlStore transaction: run a piece of work on a connection inside BEGIN ... COMMIT, retry what
is worth retrying (a lost race for a lock row or an id, a PostgreSQL deadlock or serialization
failure), turn a database that cannot be reached into StoreUnavailable (URL without password), and
log the audit events the work wrote only once they are committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.app.errors import StoreUnavailable
from bot.app.records import AuditEvent
from bot.store.database import WRITE_OPTION
from bot.store.rules import log_audit

T = TypeVar("T")

ATTEMPTS = 8  # id collisions, lock-insert races, PostgreSQL deadlock/serialization retries
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


@dataclass
class Unit:
    """One transaction in progress and the audit events it wrote (logged once it commits)."""

    conn: Connection
    events: list[AuditEvent] = field(default_factory=list)


def run_unit(
    engine: Engine, safe_url: str, work: Callable[[Unit], T], *, write: bool, retry_integrity: bool = False
) -> T:
    """`work` in one transaction (a write transaction takes SQLite's write lock first)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                unit = Unit(conn)
                with conn.begin():
                    value = work(unit)
        except IntegrityError:
            if retry_integrity and attempt < ATTEMPTS:
                continue
            raise
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES and attempt < ATTEMPTS:
                continue
            raise unavailable(safe_url, exc) from exc
        except PoolTimeout as exc:
            raise unavailable(safe_url, exc) from exc
        for event in unit.events:
            log_audit(event)
        return value


def guarded(safe_url: str, work: Callable[[], T]) -> T:
    """`work` outside a unit (the migration on open), its database errors as StoreUnavailable."""
    try:
        return work()
    except SQLAlchemyError as exc:
        raise unavailable(safe_url, exc) from exc


def unavailable(safe_url: str, exc: SQLAlchemyError) -> StoreUnavailable:
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return StoreUnavailable(
        f"database {safe_url}: {type(original).__name__}: {first_line}"
        " (is the server running, and the URL right?)"
    )
