"""`aspreset watch SITE`: the health watch's probes in a terminal, for a person looking at one site.
Each round probes every host of the site (as `serve` does, docs/watch.md) and shows per host what
the probe saw: a live table in a terminal (rich), one line per host and round otherwise. It keeps its
incidents in memory and posts nothing: the shared store and the channel belong to `serve`."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from bot.app.errors import ConfigError
from bot.app.service import Service
from bot.app.watch.classify import MIB, Reading
from bot.app.watch.incidents import Incident
from bot.app.watch.watcher import Watcher
from bot.store.incidents import MemoryIncidents
from policies.watch import Watch

STYLE = {"ok": "green", "slow": "yellow", "memory": "yellow", "restarted": "yellow"}


class Heard:
    """The incidents of this terminal session, by host (the IncidentNotifier)."""

    def __init__(self) -> None:
        self.by_host: dict[str, Incident] = {}

    def incident(self, incident: Incident, change: str) -> None:
        if incident.is_open:
            self.by_host[incident.host] = incident
        else:
            self.by_host.pop(incident.host, None)


def watch_site(service: Service, site: str, *, interval_s: float | None, rounds: int | None,
               stop: threading.Event, show: Callable[[list[Reading], Heard, int], None]) -> int:
    entry = service.inventory.sites.get(site)
    if entry is None:
        raise ConfigError(f"unknown site {site!r}; known: {', '.join(sorted(service.inventory.sites))}")
    watch = entry.watch or Watch()
    if interval_s is not None:
        timeout_s = min(watch.timeout_s, interval_s / 2)  # a shorter round keeps each probe within it
        slow_ms = None if watch.slow_ms is None else min(watch.slow_ms, int(timeout_s * 500))
        try:
            watch = Watch.model_validate({**watch.model_dump(), "interval_s": interval_s, "timeout_s": timeout_s,
                                          "slow_ms": slow_ms or None})
        except ValidationError as error:
            raise ConfigError(f"--interval {interval_s:g}: {error.errors()[0]['msg']}") from None
    sites = {**service.inventory.sites, site: entry.model_copy(update={"watch": watch})}
    service.inventory = service.inventory.model_copy(update={"sites": sites})
    heard = Heard()
    watcher = Watcher(service, MemoryIncidents(), heard)
    done = 0
    while rounds is None or done < rounds:
        readings = watcher.probe_site(site)
        done += 1
        show(readings, heard, done)
        if (rounds is None or done < rounds) and stop.wait(watch.interval_s):
            break
    return 0


def table(site: str, readings: list[Reading], heard: Heard, round_no: int) -> Table:
    out = Table(title=f"{site}: round {round_no}", title_justify="left")
    for column in ("host", "seen", "HTTP", "ms", "pool", "workers", "MiB", "incident"):
        out.add_column(column)
    for r in readings:
        seen = ", ".join(f.kind.label for f in r.findings) or "ok"
        incident = heard.by_host.get(r.host)
        out.add_row(r.host, f"[{STYLE.get(seen, 'bold red')}]{seen}[/]", str(r.status or "-"),
                    str(r.ms if r.ms is not None else "-"), r.pool_state or "-",
                    " ".join(str(w.pid) for w in r.workers) or "-",
                    " ".join(str((w.private_bytes or 0) // MIB) for w in r.workers) or "-",
                    f"{incident.id} since {incident.opened_at:%H:%M:%S}Z" if incident else "")
    return out


def lines(readings: list[Reading], round_no: int) -> str:
    out = []
    for r in readings:
        seen = "; ".join(f"{f.kind.label}: {f.evidence}" for f in r.findings) or "ok"
        out.append(f"round {round_no} {r.host}: HTTP {r.status or '-'} in {r.ms if r.ms is not None else '-'} ms, "
                   f"pool {r.pool_state or '-'}, workers {[w.pid for w in r.workers]}: {seen}")
    return "\n".join(out)


def run(args: argparse.Namespace, service: Service) -> int:
    stop = threading.Event()
    if not sys.stdout.isatty():
        def plain(readings: list[Reading], _heard: Heard, round_no: int) -> None:
            print(lines(readings, round_no), flush=True)

        return watch_site(service, args.site, interval_s=args.interval, rounds=args.rounds, stop=stop, show=plain)
    with Live(Table(title=f"{args.site}: probing..."), console=Console(), auto_refresh=False) as live:
        def live_table(readings: list[Reading], heard: Heard, round_no: int) -> None:
            live.update(table(args.site, readings, heard, round_no), refresh=True)

        try:
            return watch_site(service, args.site, interval_s=args.interval, rounds=args.rounds, stop=stop,
                              show=live_table)
        except KeyboardInterrupt:
            return 0
