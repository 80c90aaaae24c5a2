"""The health watch in `aspreset serve` (docs/watch.md): the incidents beside the requests in the
store, their Slack messages, and the schedule that probes each watched site, one replica per
deployment (the store's lease). Started only when some site has a `[sites.X.watch]`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from slack_sdk import WebClient

from bot.app.service import Service
from bot.app.watch.classify import Kind
from bot.app.watch.incidents import Incident, IncidentStore
from bot.app.watch.offers import Offer, offer_for
from bot.app.watch.schedule import Leases, WatchSchedule
from bot.app.watch.watcher import Watcher
from bot.bootstrap import Runtime
from bot.slack.incident_messages import SlackIncidents
from bot.slack.pacing import MethodBuckets
from bot.slack.permalinks import MessageLink


def start_watch(runtime: Runtime, incidents: IncidentStore, calls: WebClient, buckets: MethodBuckets,
                leases: Leases, owner: str, links: Callable[[str], MessageLink] | None = None) -> WatchSchedule | None:
    """Start probing, if any site is watched; closed with the runtime (the schedule first, then the
    messages still to send)."""
    service = runtime.service
    if not any(site.watch is not None for site in service.inventory.sites.values()):
        return None
    messages = SlackIncidents(calls, incidents, offer_of(service), channel_of(service), buckets, links=links)
    runtime.on_close(messages.close)
    service.metrics.count_incidents_with(lambda: Counter((i.site, i.kind) for i in incidents.incidents(
        open_only=True, limit=100_000)))
    schedule = WatchSchedule(Watcher(service, incidents, messages), leases, owner).start()
    runtime.on_close(schedule.stop)
    return schedule


def offer_of(service: Service) -> Callable[[Incident], Offer]:
    return lambda i: offer_for(Kind(i.kind), i.site, i.host, service.inventory, service.policy)


def channel_of(service: Service) -> Callable[[str], str | None]:
    return lambda site: service.inventory.sites[site].channel if site in service.inventory.sites else None
