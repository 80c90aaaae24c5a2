"""The health watch's incidents (bot.app.watch.incidents.IncidentStore): `SqlIncidents` in the
bot's SQLite or PostgreSQL database (table `incidents`, bot/store/schema.py), `MemoryIncidents` in one
process's memory. At most one incident is open per site, host and kind: the open row carries
`open_key`, unique, and a lost race to insert it is retried, which then finds the winner's row."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update

from bot.app.ports import Store
from bot.app.watch.incidents import BadProbe, Incident, IncidentStore
from bot.store.rules import ID_ALPHABET, ID_LENGTH, check_aware
from bot.store.schema import incidents
from bot.store.sql import SqlStore
from bot.store.sql_unit import Unit, run_unit

T = TypeVar("T")


def new_incident_id() -> str:
    return "i-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def open_key(site: str, host: str, kind: str) -> str:
    return f"{site} {host} {kind}"


def incidents_for(store: Store) -> IncidentStore:
    """The incidents kept beside the store's requests: in its database, or in memory."""
    return SqlIncidents(store) if isinstance(store, SqlStore) else MemoryIncidents()


class SqlIncidents:
    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self._url = store.safe_url

    def _write(self, work: Callable[[Unit], T]) -> T:
        return run_unit(self._engine, self._url, work, write=True, retry_integrity=True)

    def record_bad(self, bad: BadProbe) -> tuple[Incident, bool]:
        check_aware(bad.at)
        key = open_key(bad.site, bad.host, bad.kind)

        def work(unit: Unit) -> tuple[Incident, bool]:
            row = unit.conn.execute(select(incidents).where(incidents.c.open_key == key).with_for_update()).first()
            if row is not None:
                unit.conn.execute(update(incidents).where(incidents.c.id == row.id).values(
                    updated_at=bad.at, probes=max(int(row.probes), bad.probes), evidence=bad.evidence))
                return _one(unit, str(row.id)), False
            incident_id = new_incident_id()
            unit.conn.execute(insert(incidents).values(
                id=incident_id, site=bad.site, host=bad.host, kind=bad.kind, open_key=key, opened_at=bad.since,
                updated_at=bad.at, probes=bad.probes, evidence=bad.evidence, first_evidence=bad.first_evidence,
                offer=bad.offer))
            return _one(unit, incident_id), True

        return self._write(work)

    def close_incident(self, incident_id: str, now: datetime, recovered_by: str | None) -> Incident | None:
        check_aware(now)

        def work(unit: Unit) -> Incident | None:
            changed = unit.conn.execute(
                update(incidents).where(incidents.c.id == incident_id).where(incidents.c.closed_at.is_(None))
                .values(closed_at=now, open_key=None, recovered_by=recovered_by))
            return _one(unit, incident_id) if changed.rowcount == 1 else None

        return self._write(work)

    def incidents(self, site: str | None = None, open_only: bool = False, limit: int = 50) -> list[Incident]:
        def work(unit: Unit) -> list[Incident]:
            query = select(incidents).order_by(incidents.c.opened_at.desc(), incidents.c.id).limit(limit)
            if site is not None:
                query = query.where(incidents.c.site == site)
            if open_only:
                query = query.where(incidents.c.closed_at.is_(None))
            return [_incident(row._mapping) for row in unit.conn.execute(query)]

        return run_unit(self._engine, self._url, work, write=False)

    def get_incident(self, incident_id: str) -> Incident | None:
        def work(unit: Unit) -> Incident | None:
            row = unit.conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
            return _incident(row._mapping) if row is not None else None

        return run_unit(self._engine, self._url, work, write=False)

    def remember_incident_message(self, incident_id: str, channel: str, ts: str) -> tuple[str, str]:
        def work(unit: Unit) -> tuple[str, str]:
            unit.conn.execute(update(incidents).where(incidents.c.id == incident_id)
                              .where(incidents.c.ts.is_(None)).values(channel=channel, ts=ts))
            found = _one(unit, incident_id)
            return found.channel or channel, found.ts or ts

        return self._write(work)


def _one(unit: Unit, incident_id: str) -> Incident:
    row = unit.conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
    return _incident(row._mapping)


def _incident(row: Any) -> Incident:
    return Incident(
        id=row["id"], site=row["site"], host=row["host"], kind=row["kind"], opened_at=row["opened_at"],
        updated_at=row["updated_at"], probes=row["probes"], evidence=row["evidence"],
        first_evidence=row["first_evidence"], offer=row["offer"], closed_at=row["closed_at"],
        recovered_by=row["recovered_by"], channel=row["channel"], ts=row["ts"],
    )


class MemoryIncidents:
    """The same in one process's memory (a store that is not SQL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: dict[str, Incident] = {}

    def record_bad(self, bad: BadProbe) -> tuple[Incident, bool]:
        check_aware(bad.at)
        with self._lock:
            for found in self._all.values():
                if found.is_open and (found.site, found.host, found.kind) == (bad.site, bad.host, bad.kind):
                    updated = replace(found, updated_at=bad.at, probes=max(found.probes, bad.probes),
                                      evidence=bad.evidence)
                    self._all[found.id] = updated
                    return updated, False
            incident = Incident(id=new_incident_id(), site=bad.site, host=bad.host, kind=bad.kind,
                                opened_at=bad.since, updated_at=bad.at, probes=bad.probes, evidence=bad.evidence,
                                first_evidence=bad.first_evidence, offer=bad.offer)
            self._all[incident.id] = incident
            return incident, True

    def close_incident(self, incident_id: str, now: datetime, recovered_by: str | None) -> Incident | None:
        check_aware(now)
        with self._lock:
            found = self._all.get(incident_id)
            if found is None or not found.is_open:
                return None
            self._all[incident_id] = closed = replace(found, closed_at=now, recovered_by=recovered_by)
            return closed

    def incidents(self, site: str | None = None, open_only: bool = False, limit: int = 50) -> list[Incident]:
        with self._lock:
            found = [i for i in self._all.values() if (site is None or i.site == site) and (i.is_open or not open_only)]
        return sorted(found, key=lambda i: (-i.opened_at.timestamp(), i.id))[:limit]

    def get_incident(self, incident_id: str) -> Incident | None:
        with self._lock:
            return self._all.get(incident_id)

    def remember_incident_message(self, incident_id: str, channel: str, ts: str) -> tuple[str, str]:
        with self._lock:
            found = self._all[incident_id]
            if found.ts is None:
                self._all[incident_id] = found = replace(found, channel=channel, ts=ts)
            return found.channel or channel, found.ts or ts
