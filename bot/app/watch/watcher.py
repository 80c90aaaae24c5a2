"""One round of the watch over one site: probe every host at once (one `probe` operation each, over
the executor's kept session), judge each probe, count bad probes in a row per host and kind, and
open, update or close incidents. A host where a request of ours is running is skipped (a restart
looks like trouble while it runs); a new worker after a request of ours is not "restarted on its
own". Streaks live in this object: a replica that takes the schedule over starts counting afresh,
while open incidents, in the store, are closed by whichever replica sees the recovery."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from bot.app.dispatch import dispatch
from bot.app.errors import ConfigError
from bot.app.records import Request, RequestState
from bot.app.results import ProbeWorker
from bot.app.service import Service
from bot.app.watch.classify import Finding, Kind, Reading, classify
from bot.app.watch.incidents import BadProbe, Incident, IncidentNotifier, IncidentStore
from bot.app.watch.offers import offer_for
from bot.app.watch.probe import probe_params
from policies.identity import WATCH, Principal

log = structlog.get_logger("aspreset.watch")


@dataclass
class Streak:
    count: int
    since: datetime
    first_evidence: str


@dataclass
class HostState:
    workers: tuple[ProbeWorker, ...] | None = None  # what the last probe that ran saw
    at: datetime | None = None
    streaks: dict[Kind, Streak] = field(default_factory=dict)


class Watcher:
    def __init__(self, service: Service, incidents: IncidentStore, notifier: IncidentNotifier) -> None:
        self.service = service
        self.incidents = incidents
        self.notifier = notifier
        self._hosts: dict[tuple[str, str], HostState] = {}

    def watched_sites(self) -> list[str]:
        return sorted(name for name, site in self.service.inventory.sites.items() if site.watch is not None)

    def probe_site(self, site_name: str) -> list[Reading]:
        """One round: every host of the site probed in parallel; the readings in the site's host order."""
        inventory = self.service.inventory
        site = inventory.sites.get(site_name)
        if site is None or site.watch is None:
            raise ConfigError(f"site {site_name!r} has no [sites.{site_name}.watch] in the inventory")
        watch = site.watch
        calls = [(h, inventory.hosts[h], probe_params(site, inventory.hosts[h], watch)) for h in site.hosts]
        started = time.monotonic()
        outcomes = self.service.executor.run_many(calls)
        seconds = time.monotonic() - started
        now = self.service.clock()
        recent = self.service.store.list(site=site_name, limit=50)
        readings = []
        for host, outcome in zip(site.hosts, outcomes, strict=True):
            state = self._hosts.setdefault((site_name, host), HostState())
            if any(r.state == RequestState.RUNNING and host in r.hosts for r in recent):
                continue  # our own restart is under way: what it shows is not trouble
            ours = _ours_since(recent, host, state.at)
            reading = classify(host, outcome, watch, state.workers, ours_ran=ours is not None)
            if reading.workers or reading.status is not None:
                state.workers, state.at = reading.workers, now
            self._account(site_name, state, reading, watch.bad_probes, now, recent)
            # the answer's own latency; without one (a timeout, no answer) the round's
            latency = reading.ms / 1000 if reading.ms is not None else seconds
            self.service.metrics.record_probe(site_name, host, _outcome(reading), latency)
            readings.append(reading)
        return readings

    def _account(self, site: str, state: HostState, reading: Reading, needed: int, now: datetime,
                 recent: Sequence[Request]) -> None:
        seen = {f.kind: f for f in reading.findings}
        for kind in [k for k in state.streaks if k not in seen]:
            del state.streaks[kind]
        for kind, finding in seen.items():
            streak = state.streaks.setdefault(kind, Streak(0, now, finding.evidence))
            streak.count += 1
            if streak.count >= needed:
                self._bad(site, reading.host, finding, streak, now)
        for incident in self.incidents.incidents(site=site, open_only=True):
            if incident.host == reading.host and Kind(incident.kind) not in seen:
                ours = _ours_since(recent, reading.host, incident.opened_at)
                closed = self.incidents.close_incident(incident.id, now, ours.id if ours else None)
                if closed is not None:
                    log.info("incident_closed", incident=closed.id, site=site, host=closed.host, kind=closed.kind,
                             recovered_by=closed.recovered_by)
                    self.notifier.incident(closed, "closed")

    def _bad(self, site: str, host: str, finding: Finding, streak: Streak, now: datetime) -> None:
        offer = offer_for(finding.kind, site, host, self.service.inventory, self.service.policy)
        incident, opened = self.incidents.record_bad(BadProbe(
            site=site, host=host, kind=finding.kind.value, since=streak.since, at=now, probes=streak.count,
            evidence=finding.evidence, first_evidence=streak.first_evidence,
            offer=offer.rung.value if offer.rung else None))
        if opened:
            log.warning("incident_opened", incident=incident.id, site=site, host=host, kind=incident.kind,
                        evidence=finding.evidence)
        self.notifier.incident(incident, "opened" if opened else "updated")
        environment = self.service.inventory.sites[site].environment
        if opened and offer.request is not None and offer.rung in self.service.policy.environment(environment).auto:
            # the policy lets this rung run without a click here: the usual request, by the watch
            view = dispatch(offer.request, Principal(id=WATCH, verified=True), self.service, f"watch:{incident.id}")
            log.info("incident_restarted_by_itself", incident=incident.id, rung=offer.rung.value,
                     reply=getattr(view, "id", None) or getattr(view, "kind", "?"))


def _outcome(reading: Reading) -> str:
    """One fixed word per probe for the metrics: ok, or its first finding's kind."""
    return reading.findings[0].kind.value if reading.findings else "ok"


def _ours_since(recent: Sequence[Request], host: str, since: datetime | None) -> Request | None:
    """The latest request of ours that started on `host` after `since` (None: no time to compare)."""
    if since is None:
        return None
    ran = [r for r in recent if host in r.hosts and r.started_at is not None and r.started_at >= since]
    return max(ran, key=lambda r: r.started_at or since) if ran else None


__all__ = ["Incident", "Watcher"]
