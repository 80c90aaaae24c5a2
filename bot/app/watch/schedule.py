"""The watch's clock in `aspreset serve`: each watched site is probed every `interval_s`, by one
replica per deployment, the one holding the store's lease (as the expiry sweeper does), so two
replicas never probe twice nor post twice. A site's next round never starts while its last one
runs (a hung host costs its own probe's timeout, never a pile-up), and rounds of different sites
run side by side on a few threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Protocol

import structlog

from bot.app.watch.watcher import Watcher

log = structlog.get_logger("aspreset.watch")

LEASE = "watch-schedule"
MAX_TICK_S = 5.0


class Leases(Protocol):
    def hold_lease(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `owner`; True while it is theirs (bot/store/shared.py)."""
        ...


class WatchSchedule:
    def __init__(self, watcher: Watcher, leases: Leases, owner: str, *, threads: int = 16,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.watcher = watcher
        self._leases = leases
        self._owner = owner
        self._monotonic = monotonic
        self._due: dict[str, float] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="watch")
        self._thread = threading.Thread(target=self._loop, name="watch-schedule", daemon=True)
        self.rounds = 0  # rounds started by this replica

    def tick_s(self) -> float:
        """How often the clock looks: a quarter of the shortest interval, at most MAX_TICK_S."""
        inventory = self.watcher.service.inventory
        intervals = [s.watch.interval_s for s in inventory.sites.values() if s.watch is not None]
        return max(0.05, min([MAX_TICK_S, *(i / 4 for i in intervals)]))

    def run_due(self) -> list[str]:
        """Start the round of every site that is due, if this replica holds the lease; the sites started.
        The policy and inventory are taken as their files say now (a watch added or changed holds from
        the next round; a file that no longer reads stops the rounds until it is fixed: fail closed)."""
        self.watcher.service.refresh()
        sites = self.watcher.watched_sites()
        if not sites or self._stop.is_set():
            return []
        ttl = max(3 * self.tick_s(), 10.0)
        if not self._leases.hold_lease(LEASE, self._owner, self.watcher.service.clock(), ttl_s=ttl):
            self._due.clear()  # another replica probes; if it stops, this one starts afresh
            return []
        inventory = self.watcher.service.inventory
        now, started = self._monotonic(), []
        with self._lock:
            for site in sites:
                watch = inventory.sites[site].watch
                if watch is None or site in self._busy or now < self._due.get(site, now):
                    continue
                self._due[site] = now + watch.interval_s
                self._busy.add(site)
                started.append(site)
        for site in started:
            self.rounds += 1
            self._pool.submit(self._round, site)
        return started

    def _round(self, site: str) -> None:
        try:
            self.watcher.probe_site(site)
        except Exception:  # the store or a host was away: the next round tries again
            log.exception("watch_round_failed", site=site)
        finally:
            with self._lock:
                self._busy.discard(site)

    def start(self) -> WatchSchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No new round; the rounds under way finish (each bounded by its probes' deadlines)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def _sleep_s(self) -> float:
        """Until the next site is due, at most a tick (the lease is renewed each tick)."""
        with self._lock:
            due = min(self._due.values(), default=float("inf"))
        return max(0.05, min(self.tick_s(), due - self._monotonic()))

    def _loop(self) -> None:
        while True:
            try:
                self.run_due()
            except Exception:
                log.exception("watch_schedule_failed")
            if self._stop.wait(self._sleep_s()):
                return
