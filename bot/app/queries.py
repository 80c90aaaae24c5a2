"""Read-only use cases: a site's status on its hosts, the sites, the requests, the audit trail.
Nothing here records or runs anything (reading status runs a read-only script on each host)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.app.errors import ConfigError, ExecutionError
from bot.app.ports import Clock, Executor, Store
from bot.app.present import audit_event_view, request_view, site_list_view, status_view
from bot.app.records import RequestState
from bot.app.results import OperationParams, StatusResult
from bot.app.views import (
    AuditView,
    IncidentListView,
    IncidentView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
)
from bot.app.watch.incidents import IncidentStore
from policies.inventory import Inventory
from policies.policy import Policy


@dataclass(kw_only=True, eq=False)
class Queries:
    policy: Policy
    inventory: Inventory
    executor: Executor
    store: Store
    clock: Clock
    incidents: IncidentStore | None = None

    def list_incidents(self, site: str | None = None, open_only: bool = False, limit: int = 50) -> IncidentListView:
        if site is not None and site not in self.inventory.sites:
            raise ConfigError(f"unknown site {site!r}; known: {', '.join(sorted(self.inventory.sites))}")
        found = self.incidents.incidents(site=site, open_only=open_only, limit=limit) if self.incidents else []
        return IncidentListView([IncidentView.model_validate(i.as_dict()) for i in found])

    def status(self, site: str) -> StatusView:
        entry = self.inventory.sites.get(site)
        if entry is None:
            raise ConfigError(f"unknown site {site!r}; known: {', '.join(sorted(self.inventory.sites))}")
        calls = [
            (name, self.inventory.hosts[name], OperationParams(op="status", iis_site=entry.iis_site,
                                                              app_path=entry.app, pool=entry.pool))
            for name in entry.hosts
        ]
        results = self.executor.run_many(calls)
        out: list[tuple[str, StatusResult | ExecutionError]] = []
        for (name, _, _), result in zip(calls, results, strict=True):
            assert isinstance(result, StatusResult | ExecutionError)
            out.append((name, result))
        return status_view(site, out)

    def sites(self) -> SiteListView:
        return site_list_view(self.inventory)

    def get_request(self, request_id: str) -> RequestView:
        self.store.expire_due(self.clock())
        return request_view(self.store.get(request_id), self.policy)

    def list_requests(self, state: str | None = None, site: str | None = None, limit: int = 100) -> RequestListView:
        try:
            wanted = RequestState(state) if state else None
        except ValueError:
            raise ConfigError(f"state {state!r}: use one of {', '.join(s.value for s in RequestState)}") from None
        self.store.expire_due(self.clock())
        return RequestListView([request_view(r, self.policy)
                                for r in self.store.list(state=wanted, site=site, limit=limit)])

    def audit(self, site: str | None = None, since: datetime | None = None,
              request_id: str | None = None) -> AuditView:
        events = self.store.audit(site=site, since=since, request_id=request_id)
        return AuditView([audit_event_view(e, self.policy) for e in events])
