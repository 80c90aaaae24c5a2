"""An in-memory IIS server: sites, applications, application pools, worker processes and
AppDomains, with the timing behaviour a restart depends on.

Time is real (monotonic seconds) and state is advanced lazily: every read or change first applies
what is due (`_tick`): draining workers exit when their time comes, a Starting pool becomes
Started, an AlwaysRunning pool gets its workers back. No background thread is needed, and every
wait is a bounded poll done by the caller.

Not modelled: per-worker AppDomains in a web garden (one AppDomain per application, owned by the
worker that served its latest first request), bindings beyond a display string, identities.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.sim.timing import SimTiming

STARTED, STOPPED, STARTING, STOPPING = "Started", "Stopped", "Starting", "Stopping"
ON_DEMAND, ALWAYS_RUNNING = "OnDemand", "AlwaysRunning"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Worker:
    pid: int
    started_at: str
    ready_at: float
    exits_at: float | None = None
    retiring: bool = False  # told to shut down (recycle): takes no new requests
    hung: bool = False  # ignores shutdown: stays alive until killed

    def alive(self, now: float) -> bool:
        return self.exits_at is None or now < self.exits_at

    def serving(self, now: float) -> bool:
        return self.alive(now) and not self.retiring and not self.hung and self.ready_at <= now


@dataclass(frozen=True)
class ProcessEvent:
    at: float  # time.monotonic()
    kind: str  # start | exit
    pool: str
    pid: int


@dataclass
class AppDomain:
    id: str
    worker_pid: int
    started_at: str


@dataclass
class App:
    path: str
    pool: str
    physical_path: str
    app_offline: bool = False
    appdomain: AppDomain | None = None


@dataclass
class IisSite:
    name: str
    site_id: int
    bindings: list[str]
    state: str = STARTED
    apps: dict[str, App] = field(default_factory=dict)


@dataclass
class Pool:
    name: str
    managed_runtime: str = "v4.0"  # "" = No Managed Code (ASP.NET Core under ANCM)
    start_mode: str = ON_DEMAND
    max_processes: int = 1
    disallow_overlapping_rotation: bool = False
    shutdown_time_limit_s: float = 90.0
    state: str = STARTED
    workers: list[Worker] = field(default_factory=list)
    failures: deque[float] = field(default_factory=deque)
    transition_to: str | None = None
    transition_at: float = 0.0
    stopped_by_rapid_fail: bool = False

    def alive(self, now: float) -> list[Worker]:
        return [w for w in self.workers if w.alive(now)]

    def pids(self, now: float) -> list[int]:
        return sorted(w.pid for w in self.alive(now))


class IisServer:
    """One simulated Windows server running IIS. Thread-safe: every public method takes the lock."""

    def __init__(
        self,
        *,
        timing: SimTiming,
        iis_major_version: int = 10,
        iis5_isolation: bool = False,
        first_pid: int = 4000,
    ) -> None:
        self.timing = timing
        self.iis_major_version = iis_major_version
        self.iis5_isolation = iis5_isolation
        self.was_running = True
        self.sites: dict[str, IisSite] = {}
        self.pools: dict[str, Pool] = {}
        self.lock = threading.RLock()
        self.events: list[ProcessEvent] = []  # worker process starts and exits, in order
        self._pids = itertools.count(first_pid, 4)
        self._appdomain_seq = itertools.count(1)
        # IIS 5.0 isolation mode: one aspnet_wp.exe for the whole machine, no pools.
        self.machine_process = Pool(name="", managed_runtime="v2.0", start_mode=ALWAYS_RUNNING)

    # ---- building -----------------------------------------------------------------------------

    def add_pool(self, name: str, **settings: object) -> Pool:
        with self.lock:
            if name not in self.pools:
                settings.setdefault("shutdown_time_limit_s", self.timing.shutdown_time_limit_s)
                self.pools[name] = Pool(name=name, **settings)  # type: ignore[arg-type]
            return self.pools[name]

    def add_app(self, site_name: str, path: str, pool: str, physical_path: str | None = None) -> App:
        with self.lock:
            site = self.sites.get(site_name)
            if site is None:
                site_id = len(self.sites) + 1
                site = IisSite(
                    name=site_name, site_id=site_id, bindings=[f"http/*:80:{_host_name(site_name, site_id)}"]
                )
                self.sites[site_name] = site
                site.apps.setdefault("/", App(path="/", pool=pool, physical_path=_physical(site_name, "/")))
            if not self.iis5_isolation:
                self.add_pool(pool)
            app = site.apps.get(path)
            if app is None:
                app = App(path=path, pool=pool, physical_path=physical_path or _physical(site_name, path))
                site.apps[path] = app
            return app

    def start_workers(self) -> None:
        """Bring every started pool up to its maxProcesses, as if traffic had been flowing."""
        with self.lock:
            now = time.monotonic()
            for pool in self._process_hosts():
                if pool.state == STARTED:
                    while len([w for w in pool.alive(now) if not w.retiring]) < pool.max_processes:
                        self._spawn(pool, now, ready_at=now)
                    for site in self.sites.values():
                        for app in site.apps.values():
                            if self.pool_of(app) is pool and pool.managed_runtime:
                                self._new_appdomain(site, app, pool.workers[-1])

    # ---- reading ------------------------------------------------------------------------------

    def pool_of(self, app: App) -> Pool:
        if self.iis5_isolation:
            return self.machine_process
        return self.pools[app.pool]

    def pool(self, name: str) -> Pool:
        with self.lock:
            self._tick()
            return self.pools[name]

    def app(self, site: str, path: str = "/") -> App:
        with self.lock:
            self._tick()
            return self.sites[site].apps[path]

    def pids(self, pool: Pool) -> list[int]:
        with self.lock:
            self._tick()
            return pool.pids(time.monotonic())

    def workers(self, pool: Pool) -> list[Worker]:
        with self.lock:
            self._tick()
            return sorted(pool.alive(time.monotonic()), key=lambda w: w.pid)

    def state(self, pool: Pool) -> str:
        with self.lock:
            self._tick()
            return pool.state

    def appdomain_id(self, app: App) -> str | None:
        with self.lock:
            self._tick()
            return app.appdomain.id if app.appdomain else None

    # ---- acting -------------------------------------------------------------------------------

    def recycle(self, pool: Pool) -> None:
        """Graceful recycle: the old workers drain (overlapped: a new one may start at once;
        disallowOverlappingRotation: only after they are gone). Hung workers never exit."""
        with self.lock:
            self._tick()
            now = time.monotonic()
            drain = min(self.timing.drain_s, pool.shutdown_time_limit_s)
            for worker in pool.alive(now):
                if worker.retiring:
                    continue
                worker.retiring = True
                if not worker.hung:
                    worker.exits_at = now + drain
            self._forget_appdomains(pool)
            self._tick()

    def kill(self, pool: Pool, pid: int) -> bool:
        """Stop-Process -Id: the worker is gone at once; it counts towards rapid-fail."""
        with self.lock:
            self._tick()
            now = time.monotonic()
            for worker in pool.alive(now):
                if worker.pid == pid:
                    worker.exits_at = now
                    self._forget_appdomains(pool, pid)
                    self._record_failure(pool, now)
                    self._tick()
                    return True
            return False

    def crash(self, pool: Pool) -> None:
        """A worker of the pool crashes (counts towards rapid-fail protection)."""
        with self.lock:
            self._tick()
            now = time.monotonic()
            alive = pool.alive(now)
            if alive:
                alive[0].exits_at = now
                self._forget_appdomains(pool, alive[0].pid)
            self._record_failure(pool, now)
            self._tick()

    def hang_workers(self, pool: Pool) -> list[int]:
        """Every current worker of the pool stops responding: a recycle will not finish."""
        with self.lock:
            self._tick()
            now = time.monotonic()
            for worker in pool.alive(now):
                worker.hung = True
                worker.exits_at = None
            return pool.pids(now)

    def idle_out(self, pool: Pool) -> None:
        """The idle timeout shut the workers down (an OnDemand pool with no traffic)."""
        with self.lock:
            now = time.monotonic()
            for worker in pool.alive(now):
                worker.exits_at = now
            self._forget_appdomains(pool)
            self._tick()

    def set_transition(self, pool: Pool, state: str, for_s: float | None = None) -> None:
        """Put the pool in Starting or Stopping for a while (None: the default transition time;
        float('inf'): stuck)."""
        with self.lock:
            pool.state = state
            pool.transition_to = STARTED if state == STARTING else STOPPED
            pool.transition_at = time.monotonic() + (self.timing.transition_s if for_s is None else for_s)

    def start_pool(self, pool: Pool) -> None:
        with self.lock:
            pool.state = STARTED
            pool.transition_to = None
            pool.stopped_by_rapid_fail = False
            pool.failures.clear()
            self._tick()

    def unload_appdomain(self, app: App) -> None:
        """WMI AppDomain.Unload(), or ASP.NET noticing web.config/bin change: the next request
        creates a new AppDomain in the same worker process."""
        with self.lock:
            app.appdomain = None

    def restart_core_app(self, pool: Pool) -> None:
        """ANCM noticed web.config changed: the in-process app (and so its worker) restarts."""
        with self.lock:
            now = time.monotonic()
            for worker in pool.alive(now):
                worker.retiring = True
                if not worker.hung:
                    worker.exits_at = now
            self._tick()

    # ---- requests (warm-up) -------------------------------------------------------------------

    def route(self, path: str, host_header: str | None = None) -> tuple[IisSite, App] | None:
        """IIS routing: the sites whose binding host name matches the Host header (all sites when
        none does), then the application whose path is the longest prefix of `path` (the first
        site wins a tie)."""
        name = (host_header or "").rsplit(":", 1)[0].lower()
        sites = [s for s in self.sites.values() if any(b.rsplit(":", 1)[-1] == name for b in s.bindings)]
        best: tuple[IisSite, App] | None = None
        for site in sites or list(self.sites.values()):
            for app in site.apps.values():
                prefix = app.path.rstrip("/") + "/"
                if (path == app.path or path.startswith(prefix) or app.path == "/") and (
                    best is None or len(app.path) > len(best[1].path)
                ):
                    best = (site, app)
        return best

    def host_header(self, site: IisSite) -> str:
        """The host name of the site's first binding (what a warm-up sends as Host)."""
        return site.bindings[0].rsplit(":", 1)[-1]

    def serve(self, path: str, host_header: str | None = None, stop: threading.Event | None = None) -> tuple[int, str]:
        """Serve one HTTP request: start a worker if none serves (on-demand; with
        disallowOverlappingRotation only once the old workers are gone), wait for it, create the
        application's AppDomain if it has none. Returns (status, body)."""
        deadline = time.monotonic() + self.timing.request_timeout_s
        worker: Worker | None = None
        while True:
            with self.lock:
                self._tick()
                now = time.monotonic()
                routed = self.route(path, host_header)
                if routed is None:
                    return 404, "no application"
                site, app = routed
                if not self.was_running:
                    return 503, "Service Unavailable (WAS stopped)"
                if app.app_offline:
                    return 503, "app_offline.htm"
                pool = self.pool_of(app)
                if pool.state != STARTED or site.state != STARTED:
                    return 503, "Service Unavailable (application pool stopped)"
                if worker is None or not worker.alive(now):
                    worker = next((w for w in reversed(pool.alive(now)) if not w.retiring), None)
                    in_gap = pool.disallow_overlapping_rotation and any(w.retiring for w in pool.alive(now))
                    if worker is None and not in_gap:
                        worker = self._spawn(pool, now)
                if worker is not None and worker.ready_at <= now and not worker.hung:  # a hung one never answers
                    cold_start = 0.0
                    if pool.managed_runtime and not _owned_by_alive(app, pool, now):
                        self._new_appdomain(site, app, worker)
                        cold_start = self.timing.cold_start_s
                    appdomain = app.appdomain.id if app.appdomain else "-"
                    answer = 200, f"pid={worker.pid} appdomain={appdomain}"
                    if not cold_start:
                        return answer
                    break
                ready_in = worker.ready_at - now if worker is not None and not worker.hung else self.timing.poll_s
            if time.monotonic() >= deadline:
                return 503, "no worker process started in time"
            wait = max(0.001, min(self.timing.poll_s, ready_in))
            if stop is not None and stop.wait(wait):
                return 503, "server stopping"
            if stop is None:
                time.sleep(wait)
        # the new AppDomain's first request compiles the app (outside the lock: other apps still serve)
        if stop is not None and stop.wait(cold_start):
            return 503, "server stopping"
        if stop is None:
            time.sleep(cold_start)
        return answer

    # ---- internals ----------------------------------------------------------------------------

    def _process_hosts(self) -> list[Pool]:
        return [self.machine_process] if self.iis5_isolation else list(self.pools.values())

    def _tick(self) -> None:
        now = time.monotonic()
        for pool in self._process_hosts():
            for gone in [w for w in pool.workers if not w.alive(now)]:
                self.events.append(ProcessEvent(gone.exits_at or now, "exit", pool.name, gone.pid))
            pool.workers = [w for w in pool.workers if w.alive(now)]
            if pool.transition_to is not None and now >= pool.transition_at:
                pool.state, pool.transition_to = pool.transition_to, None
            if pool.state == STOPPED:
                for worker in pool.workers:
                    worker.exits_at = now
                    self.events.append(ProcessEvent(now, "exit", pool.name, worker.pid))
                pool.workers = []
                continue
            if pool.state == STARTED and pool.start_mode == ALWAYS_RUNNING and self.was_running:
                self._keep_running(pool, now)

    def _keep_running(self, pool: Pool, now: float) -> None:
        active = [w for w in pool.workers if not w.retiring]
        if pool.disallow_overlapping_rotation and any(w.retiring for w in pool.workers):
            return  # the gap: the new worker waits until the old ones are gone
        for _ in range(pool.max_processes - len(active)):
            self._spawn(pool, now)

    def _spawn(self, pool: Pool, now: float, ready_at: float | None = None) -> Worker:
        worker = Worker(
            pid=next(self._pids),
            started_at=utc_now_iso(),
            ready_at=ready_at if ready_at is not None else now + self.timing.worker_start_s,
        )
        pool.workers.append(worker)
        self.events.append(ProcessEvent(now, "start", pool.name, worker.pid))
        return worker

    def _record_failure(self, pool: Pool, now: float) -> None:
        pool.failures.append(now)
        while pool.failures and pool.failures[0] < now - self.timing.rapid_fail_window_s:
            pool.failures.popleft()
        if len(pool.failures) >= self.timing.rapid_fail_max and pool is not self.machine_process:
            pool.state = STOPPED
            pool.stopped_by_rapid_fail = True

    def _forget_appdomains(self, pool: Pool, pid: int | None = None) -> None:
        for site in self.sites.values():
            for app in site.apps.values():
                owned = app.appdomain is not None and (pid is None or app.appdomain.worker_pid == pid)
                if owned and self.pool_of(app) is pool:
                    app.appdomain = None

    def _new_appdomain(self, site: IisSite, app: App, worker: Worker) -> None:
        suffix = "" if app.path == "/" else app.path.rstrip("/")
        seq = next(self._appdomain_seq)
        filetime = 133_000_000_000_000_000 + int(time.time() * 10_000_000) % 10**16
        app.appdomain = AppDomain(
            id=f"/LM/W3SVC/{site.site_id}/ROOT{suffix}-{seq}-{filetime}",
            worker_pid=worker.pid,
            started_at=utc_now_iso(),
        )


def _owned_by_alive(app: App, pool: Pool, now: float) -> bool:
    return app.appdomain is not None and app.appdomain.worker_pid in pool.pids(now)


def _host_name(site_name: str, site_id: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", site_name.lower()).strip("-")[:40] or "site"
    return f"{slug}-{site_id}.sim"


def _physical(site: str, path: str) -> str:
    tail = path.strip("/").replace("/", "\\")
    base = f"C:\\inetpub\\{site}"
    return f"{base}\\{tail}" if tail else base
