"""Runs' signs of life, kept with the replicas' other leases (the `leases` table, one row `run:ID` per
running request): whoever runs a request renews its row (bot/app/heartbeat.py), and the
deployment's one sweeper marks interrupted a run whose row lapsed, on whichever machine it ran.

A row is reaped only when it was lapsed at two sweeps in a row with the same expiry: a store that
was away for a while comes back to runners and sweeper at once, and the runners get a whole sweep's
interval to renew before anything is marked. A running request with no row (claimed by an older
version, or between its claim and its first beat) is left to the check by process id on its own
machine (bootstrap.reap_dead_local_runs)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, insert, select, update

from bot.app.ports import Store
from bot.app.records import RequestState
from bot.store.rules import check_aware
from bot.store.schema import leases
from bot.store.sql import SqlStore
from bot.store.sql_unit import Unit, run_unit

log = structlog.get_logger("aspreset.store")

PREFIX = "run:"


class SqlLiveness:
    """The RunLiveness port on a SQL store (SQLite or PostgreSQL)."""

    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self._url = store.safe_url

    def renew(self, request_id: str, owner: str, now: datetime, ttl_s: float) -> None:
        check_aware(now)
        name, until = PREFIX + request_id, now + timedelta(seconds=ttl_s)

        def work(unit: Unit) -> None:
            changed = unit.conn.execute(update(leases).where(leases.c.name == name).values(owner=owner, until=until))
            if changed.rowcount == 0:
                unit.conn.execute(insert(leases).values(name=name, owner=owner, until=until))

        run_unit(self._engine, self._url, work, write=True, retry_integrity=True)

    def end(self, request_id: str) -> None:
        def work(unit: Unit) -> None:
            unit.conn.execute(delete(leases).where(leases.c.name == PREFIX + request_id))

        run_unit(self._engine, self._url, work, write=True)

    def lapsed(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        """request id -> (its runner, when its record lapsed), for every record lapsed by `now`."""
        check_aware(now)

        def work(unit: Unit) -> dict[str, tuple[str, datetime]]:
            rows = unit.conn.execute(select(leases.c.name, leases.c.owner, leases.c.until)
                                     .where(leases.c.name.startswith(PREFIX)).where(leases.c.until < now)).all()
            return {row.name.removeprefix(PREFIX): (str(row.owner), row.until) for row in rows}

        return run_unit(self._engine, self._url, work, write=False)


class LapsedRuns:
    """The sweeper's side: marks interrupted the running requests whose record lapsed at two sweeps
    in a row (same expiry both times), and removes their records."""

    def __init__(self, liveness: SqlLiveness) -> None:
        self._liveness = liveness
        self._seen: dict[str, tuple[str, datetime]] = {}  # lapsed at the previous sweep

    def reap(self, store: Store, now: datetime) -> list[str]:
        lapsed = self._liveness.lapsed(now)
        reaped: list[str] = []
        for request_id, (owner, until) in lapsed.items():
            if self._seen.get(request_id) != (owner, until):
                continue
            if store.get(request_id).state == RequestState.RUNNING:
                reaped += store.mark_interrupted(now, request_id=request_id)
                log.warning("interrupted", request_id=request_id, runner=owner,
                            reason=f"its runner stopped renewing its liveness at {until.isoformat()}")
            self._liveness.end(request_id)
        self._seen = {k: v for k, v in lapsed.items() if k not in reaped}
        return reaped
