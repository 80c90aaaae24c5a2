"""An incident: one site, one host, one kind of trouble, from the first of the bad probes in a row
that opened it until the first probe without it. The store keeps them (the IncidentStore port:
SQLite, PostgreSQL or memory, bot/store/incidents.py); the IncidentNotifier port hears them open,
change and close (the site's Slack channel: one message per incident)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Incident:
    id: str
    site: str
    host: str
    kind: str  # bot.app.watch.classify.Kind
    opened_at: datetime  # when the first bad probe of the streak was seen: "since when"
    updated_at: datetime  # the latest bad probe
    probes: int  # bad probes in a row so far
    evidence: str  # what the latest bad probe showed
    first_evidence: str  # what the first one showed
    offer: str | None = None  # the rung offered (bot.app.watch.offers), None: no restart offered
    closed_at: datetime | None = None
    recovered_by: str | None = None  # the request of ours that ran on the host before it recovered
    channel: str | None = None  # its one Slack message, once posted
    ts: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "host": self.host,
            "kind": self.kind,
            "state": "open" if self.is_open else "closed",
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "probes": self.probes,
            "evidence": self.evidence,
            "first_evidence": self.first_evidence,
            "offer": self.offer,
            "recovered_by": self.recovered_by,
        }


@dataclass(frozen=True)
class BadProbe:
    """What the watcher hands the store for a host whose streak reached the threshold."""

    site: str
    host: str
    kind: str
    since: datetime  # the first bad probe of the streak
    at: datetime  # this one
    probes: int
    evidence: str
    first_evidence: str
    offer: str | None = None


class IncidentStore(Protocol):
    """Every method is one transaction; at most one open incident per site, host and kind, across
    replicas."""

    def record_bad(self, bad: BadProbe) -> tuple[Incident, bool]:
        """Open the incident for (site, host, kind), or update the open one; True when it opened."""
        ...

    def close_incident(self, incident_id: str, now: datetime, recovered_by: str | None) -> Incident | None:
        """Close it; None when it was closed already (another replica, an earlier round)."""
        ...

    def incidents(self, site: str | None = None, open_only: bool = False, limit: int = 50) -> list[Incident]:
        """Newest first."""
        ...

    def get_incident(self, incident_id: str) -> Incident | None: ...

    def remember_incident_message(self, incident_id: str, channel: str, ts: str) -> tuple[str, str]:
        """Record its message unless one is recorded; returns the recorded one."""
        ...


class IncidentNotifier(Protocol):
    """Hears incidents open, change and close. Must not raise or block for long."""

    def incident(self, incident: Incident, change: str) -> None:
        """`change`: opened | updated | closed."""
        ...
