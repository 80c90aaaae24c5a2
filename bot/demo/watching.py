"""The health watch in the console: the demo's watcher probes the shop between scenes as `serve`
would, and an incident's one channel message is printed as the channel would show it, its button
as the chat line it stands for (the same request the Slack button makes)."""

from __future__ import annotations

from typing import TextIO

from bot.app.service import Service
from bot.app.watch.classify import Kind
from bot.app.watch.incidents import Incident
from bot.app.watch.offers import offer_for
from bot.app.watch.watcher import Watcher
from bot.store.incidents import MemoryIncidents
from commands.model import RestartRequest
from policies.watch import Watch

DEMO_WATCH = Watch(interval_s=1, timeout_s=0.5, slow_ms=400, bad_probes=3)


def button_line(request: RestartRequest) -> str:
    """The chat line an incident's button stands for."""
    reason = f" --reason {request.reason.value}" if request.reason else ""
    return f"/recycle {request.site}{reason} " + " ".join(f"--host {h}" for h in request.hosts)


class ConsoleIncidents:
    """Prints each incident's message when it opens and when it recovers (a channel shows one
    message, updated in place; the console prints its first and its last state)."""

    def __init__(self, service: Service, out: TextIO) -> None:
        self.service = service
        self.out = out
        self.heard: list[tuple[str, Incident]] = []

    def incident(self, incident: Incident, change: str) -> None:
        self.heard.append((change, incident))
        kind = Kind(incident.kind)
        if change == "opened":
            offer = offer_for(kind, incident.site, incident.host, self.service.inventory, self.service.policy)
            lines = [f"#channel  {incident.site} on {incident.host}: {kind.label} since "
                     f"{incident.opened_at:%H:%M:%S}Z ({incident.probes} bad probes in a row), nobody asked",
                     f"  seen: {incident.evidence}"]
            if offer.request is not None and offer.rung is not None:
                lines.append(f"  narrowest restart: {offer.rung.value} on {incident.host}: {offer.why}")
                lines.append(f"  [button: {offer.rung.value} on {incident.host}]  type: {button_line(offer.request)}")
            else:
                lines.append(f"  {offer.why}")
            print("\n".join(f"  {line}" for line in lines), file=self.out, flush=True)
        elif change == "closed":
            by = f"recovered by request {incident.recovered_by}" if incident.recovered_by else "recovered on its own"
            print(f"    #channel (the same message, updated)  {incident.site} on {incident.host}: {by}",
                  file=self.out, flush=True)


def demo_watcher(service: Service, out: TextIO, site: str = "shop-web") -> tuple[Watcher, ConsoleIncidents]:
    """A watcher over `site` with DEMO_WATCH, its incidents kept in memory and printed."""
    sites = {**service.inventory.sites, site: service.inventory.sites[site].model_copy(update={"watch": DEMO_WATCH})}
    service.inventory = service.inventory.model_copy(update={"sites": sites})
    heard = ConsoleIncidents(service, out)
    return Watcher(service, MemoryIncidents(), heard), heard
