"""An in-memory IIS server: sites and their bindings, applications, application pools, worker
processes and AppDomains, modelled on the conservative side of IIS's documented behaviour
(docs/iis-behaviour.md) so that a check which passes here holds on a real server:

- an application's AppDomain Id is fixed (its path, /LM/W3SVC/1/ROOT/shop); a restart shows only as
  the entry leaving the list, a new entry, and the machine's `Application Restarts` counter growing;
- PIDs are reused (bot.sim.processes): only (PID, start time) tells processes apart;
- a hung worker ignores the recycle and WAS kills it at the pool's shutdownTimeLimit;
- every kill counts towards the pool's rapid-fail protection, which stops the pool;
- an OnDemand pool starts a worker only with a request; ASP.NET Core out of process runs its own
  process (MyApp.exe, with a conhost.exe beside it) as a child of the worker, which touching
  web.config restarts; an app is ASP.NET Core by its ANCM handler, not by its pool's runtime;
- optional features, the PowerShell version and a stuck WMI repository are per host.
Time is real (monotonic) and applied lazily (`tick`); bot.sim.http_sys serves the requests.
"""

from __future__ import annotations

import threading
import time

from bot.sim.iis_objects import (
    ALWAYS_RUNNING,
    IN_PROCESS,
    ON_DEMAND,
    OUT_OF_PROCESS,
    STARTED,
    STARTING,
    STOPPED,
    STOPPING,
    App,
    AppDomain,
    Binding,
    ContentDenied,
    IisSite,
    Pool,
    default_physical_path,
    host_name,
)
from bot.sim.network import HostNetwork
from bot.sim.processes import ProcessEvent, ProcessTable, Worker
from bot.sim.timing import SimTiming

__all__ = ["ALWAYS_RUNNING", "IN_PROCESS", "ON_DEMAND", "OUT_OF_PROCESS", "STARTED", "STARTING", "STOPPED",
           "STOPPING", "App", "AppDomain", "Binding", "ContentDenied", "IisServer", "IisSite", "Pool"]


class IisServer:
    """One simulated Windows server running IIS. Thread-safe: every public method takes the lock."""

    def __init__(
        self,
        *,
        timing: SimTiming,
        iis_major_version: int = 10,
        iis5_isolation: bool = False,
        first_pid: int = 4000,
        reuse_pids: bool = True,
        powershell_version: str = "5.1",
    ) -> None:
        self.timing = timing
        self.iis_major_version = iis_major_version
        self.iis5_isolation = iis5_isolation
        self.powershell_version = powershell_version
        # ConstrainedLanguage: an application control policy (WDAC, AppLocker) locks PowerShell down.
        self.language_mode = "FullLanguage"
        self.was_running = True
        self.wmi_provider = True  # root\WebAdministration (IIS Management Scripts and Tools)
        self.webadministration_module = True
        self.aspnet = True
        self.wmi_stuck = False  # every CIM call hangs until its -OperationTimeoutSec
        self.http_port = 80  # the port the sites' bindings name (the simulated web server's)
        self.https_port = 443  # the same for https bindings (its TLS side)
        self.network = HostNetwork()  # its addresses and HTTP.sys' IP listen list
        self.account = "SIM\\aspreset-lab"  # what the WinRM network logon runs as
        self.app_restarts = 0  # ASP.NET `Application Restarts`, machine-wide since W3SVC started
        # During an overlapped recycle HTTP.sys hands requests to the old worker until the new one is
        # ready (docs/iis-behaviour.md); False lets a request wait for the new worker instead.
        self.old_worker_serves_overlap = True
        # A request for an application's path without its trailing slash is answered 301 to the path
        # with it by a native module, before ASP.NET runs (docs/iis-behaviour.md).
        self.courtesy_redirects = True
        # Other applications on the server restart too: each read of the machine-wide `Application
        # Restarts` counter finds it this much higher.
        self.other_app_restarts_per_read = 0
        # False: AppDomain.Unload() returns but the entry stays (a request in flight holds it).
        self.unload_takes = True
        # False: the System log's WAS events cannot be read (the worker rung then refuses to kill).
        self.was_events_readable = True
        self.request_monitor = True  # Web-Request-Monitor: without it the requests in flight cannot be listed
        # HTTP.sys' DisableServerHeader (common hardening): its own 400/404/503 carry no Server header.
        self.http_sys_hides_server_header = False
        # Reads of the runtime state that fail, as a busy WAS or a WMI call past its bound does: after
        # `reads_before_failure` more good ones, the next `failing_reads` fail.
        self.reads_before_failure = 0
        self.failing_reads = 0
        self.sites: dict[str, IisSite] = {}
        self.pools: dict[str, Pool] = {}
        self.lock = threading.RLock()
        self.events: list[ProcessEvent] = []  # worker process starts and exits, in order
        self.processes = ProcessTable(first_pid, reuse=reuse_pids)
        # IIS 5.0 isolation mode: one aspnet_wp.exe for the whole machine, no pools.
        self.machine_process = Pool(name="", managed_runtime="v2.0", start_mode=ALWAYS_RUNNING)

    # ---- building -----------------------------------------------------------------------------

    def add_pool(self, name: str, **settings: object) -> Pool:
        with self.lock:
            if name not in self.pools:
                settings.setdefault("shutdown_time_limit_s", self.timing.shutdown_time_limit_s)
                settings.setdefault("rapid_fail_max", self.timing.rapid_fail_max)
                settings.setdefault("rapid_fail_interval_s", self.timing.rapid_fail_window_s)
                self.pools[name] = Pool(name=name, **settings)  # type: ignore[arg-type]
            return self.pools[name]

    def add_app(self, site_name: str, path: str, pool: str, physical_path: str | None = None) -> App:
        with self.lock:
            site = self.sites.get(site_name)
            if site is None:
                site_id = len(self.sites) + 1
                binding = Binding("http", "*", self.http_port, host_name(site_name, site_id))
                site = IisSite(name=site_name, site_id=site_id, bindings=[binding])
                self.sites[site_name] = site
                site.apps.setdefault("/", App(path="/", pool=pool, physical_path=default_physical_path(site_name, "/")))
            if not self.iis5_isolation:
                self.add_pool(pool)
            app = site.apps.get(path)
            if app is None:
                app = App(path=path, pool=pool, physical_path=physical_path or default_physical_path(site_name, path))
                site.apps[path] = app
            return app

    def start_workers(self) -> None:
        """Bring every started pool up to its maxProcesses, as if traffic had been flowing."""
        with self.lock:
            now = time.monotonic()
            for pool in self._process_hosts():
                if pool.state == STARTED:
                    while len([w for w in pool.alive(now) if not w.retiring]) < pool.max_processes:
                        self.spawn(pool, now, ready_at=now)
                    for site, app in self.apps_of(pool):
                        if app.hosting_model == OUT_OF_PROCESS:
                            self.start_child(app, pool.workers[-1], now, ready=True)
                        elif not app.aspnet_core and pool.managed_runtime:
                            self.new_appdomain(site, app, pool.workers[-1])

    # ---- reading ------------------------------------------------------------------------------

    def pool_of(self, app: App) -> Pool:
        if self.iis5_isolation:
            return self.machine_process
        return self.pools[app.pool]

    def apps_of(self, pool: Pool) -> list[tuple[IisSite, App]]:
        return [(s, a) for s in self.sites.values() for a in s.apps.values() if self.pool_of(a) is pool]

    def pool(self, name: str) -> Pool:
        with self.lock:
            self.tick()
            return self.pools[name]

    def app(self, site: str, path: str = "/") -> App:
        with self.lock:
            self.tick()
            return self.sites[site].apps[path]

    def pids(self, pool: Pool) -> list[int]:
        with self.lock:
            self.tick()
            return pool.pids(time.monotonic())

    def workers(self, pool: Pool) -> list[Worker]:
        with self.lock:
            self.tick()
            return sorted(pool.alive(time.monotonic()), key=lambda w: w.pid)

    def state(self, pool: Pool) -> str:
        with self.lock:
            self.tick()
            return pool.state

    def appdomain_id(self, app: App) -> str | None:
        with self.lock:
            self.tick()
            return app.appdomain.id if app.appdomain else None

    def child_processes(self, pool: Pool) -> list[tuple[str, Worker]]:
        """(image name, process) of every process whose parent is one of the pool's workers, as
        Win32_Process lists them: the out-of-process apps' own and the console hosts beside them."""
        with self.lock:
            self.tick()
            found: list[tuple[str, Worker]] = []
            for _, app in self.apps_of(pool):
                if app.child is not None:
                    found.append((app.process_name, app.child))
                if app.console_host is not None:
                    found.append(("conhost.exe", app.console_host))
            return found

    def read_fails(self) -> bool:
        """Whether this read of the runtime state fails (see `failing_reads`)."""
        with self.lock:
            if self.reads_before_failure > 0:
                self.reads_before_failure -= 1
                return False
            if self.failing_reads > 0:
                self.failing_reads -= 1
                return True
            return False

    def failure_events(self, pool: Pool) -> int:
        """WAS events 5009-5011 for the pool within its rapid-fail interval: its workers' crashes and
        kills, which rapid-fail protection counts."""
        with self.lock:
            self.tick()
            since = time.monotonic() - pool.rapid_fail_interval_s
            return sum(1 for at in pool.failures if at >= since)

    def log_was_event(self, pool: Pool, event_id: int) -> None:
        """WAS logs an event for the pool in the System log (5009: a crash or kill; 5002: rapid-fail stop)."""
        with self.lock:
            pool.was_log.append((event_id, self.processes.start_time()))

    def restart_counter(self) -> int:
        """The `Application Restarts` counter as a read finds it: other apps move it too."""
        with self.lock:
            self.app_restarts += self.other_app_restarts_per_read
            return self.app_restarts

    # ---- acting -------------------------------------------------------------------------------

    def recycle(self, pool: Pool) -> None:
        """Graceful recycle: the old workers drain (overlapped: a new one may start at once;
        disallowOverlappingRotation: only after they are gone). A hung worker ignores the request
        and WAS kills it when the pool's shutdownTimeLimit passes."""
        with self.lock:
            self.tick()
            now = time.monotonic()
            drain = min(self.timing.drain_s, pool.shutdown_time_limit_s)
            replaced = 0
            for worker in pool.alive(now):
                if worker.retiring:
                    continue
                worker.retiring = True
                worker.exits_at = now + (pool.shutdown_time_limit_s if worker.hung else drain)
                replaced += 1
            if not pool.disallow_overlapping_rotation:
                for _ in range(replaced):  # overlapped rotation: WAS starts the replacement at once
                    self.spawn(pool, now)
            self._forget_appdomains(pool)
            self.tick()

    def kill(self, pool: Pool, pid: int) -> bool:
        """Stop-Process -Id: the worker is gone at once; it counts towards rapid-fail."""
        with self.lock:
            self.tick()
            now = time.monotonic()
            for worker in pool.alive(now):
                if worker.pid == pid:
                    worker.exits_at = now
                    self._forget_appdomains(pool, pid)
                    self._record_failure(pool, now)
                    self.tick()
                    return True
            return False

    def crash(self, pool: Pool) -> None:
        """A worker of the pool crashes (counts towards rapid-fail protection)."""
        with self.lock:
            self.tick()
            now = time.monotonic()
            alive = pool.alive(now)
            if alive:
                alive[0].exits_at = now
                self._forget_appdomains(pool, alive[0].pid)
            self._record_failure(pool, now)
            self.tick()

    def hang_workers(self, pool: Pool) -> list[int]:
        """Every current worker of the pool stops responding: a recycle waits for WAS to kill it."""
        with self.lock:
            self.tick()
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
            self.tick()

    def set_transition(self, pool: Pool, state: str, for_s: float | None = None) -> None:
        """Put the pool in Starting or Stopping for a while (None: the default transition time;
        float('inf'): stuck)."""
        with self.lock:
            pool.state = state
            pool.transition_to = STARTED if state == STARTING else STOPPED
            pool.transition_at = time.monotonic() + (self.timing.transition_s if for_s is None else for_s)

    def stop_pool_after(self, pool: Pool, seconds: float) -> None:
        """An operator (or a crash loop) stops the pool `seconds` from now."""
        self.set_transition(pool, STARTED, seconds)
        with self.lock:
            pool.transition_to = STOPPED

    def start_pool(self, pool: Pool) -> None:
        with self.lock:
            pool.state = STARTED
            pool.transition_to = None
            pool.stopped_by_rapid_fail = False
            pool.failures.clear()
            self.tick()

    def unload_appdomain(self, app: App) -> bool:
        """WMI/MWA AppDomain.Unload(): the entry leaves the list; the next request creates a new
        AppDomain (with the same Id) in the same worker process."""
        with self.lock:
            self.tick()
            if app.appdomain is None or not self.unload_takes:
                return False
            app.appdomain = None
            self.app_restarts += 1
            return True

    def change_content(self, app: App) -> None:
        """web.config's LastWriteTime set, or a file created and deleted in bin/: ASP.NET restarts the
        AppDomain; ANCM restarts an ASP.NET Core app (in process: its worker recycles; out of
        process: its dotnet.exe child). Raises ContentDenied for unreachable content."""
        with self.lock:
            self.tick()
            if app.content_denied:
                raise ContentDenied(app.physical_path)
            pool = self.pool_of(app)
            now = time.monotonic()
            if app.hosting_model == OUT_OF_PROCESS:
                self._end_child(app, now)
            elif app.aspnet_core:
                for worker in pool.alive(now):
                    worker.retiring = True
                    worker.exits_at = now if not worker.hung else now + pool.shutdown_time_limit_s
            elif app.appdomain is not None:
                app.appdomain = None
                self.app_restarts += 1
            self.tick()

    # ---- processes (also used by bot.sim.http_sys) --------------------------------------------

    def spawn(self, pool: Pool, now: float, ready_at: float | None = None) -> Worker:
        worker = Worker(
            pid=self.processes.new_pid(),
            started_at=self.processes.start_time(),
            ready_at=ready_at if ready_at is not None else now + self.timing.worker_start_s,
        )
        pool.workers.append(worker)
        self.events.append(ProcessEvent(now, "start", pool.name, worker.pid))
        return worker

    def new_appdomain(self, site: IisSite, app: App, worker: Worker) -> None:
        """The application's AppDomain, created by its first request; its Id is the app's path."""
        suffix = "" if app.path == "/" else app.path.rstrip("/")
        app.appdomain = AppDomain(
            id=f"/LM/W3SVC/{site.site_id}/ROOT{suffix}", worker_pid=worker.pid, started_at=self.processes.start_time()
        )

    def start_child(self, app: App, worker: Worker, now: float, *, ready: bool = False) -> Worker:
        """ANCM out of process starts the app's process (processPath) under the worker, and Windows a
        console host beside it."""
        child = Worker(pid=self.processes.new_pid(), started_at=self.processes.start_time(), ready_at=now)
        app.child, app.child_of = child, worker.pid
        app.console_host = Worker(pid=self.processes.new_pid(), started_at=self.processes.start_time(), ready_at=now)
        app.ready_at = now if ready else now + self.timing.cold_start_s
        return child

    def tick(self) -> None:
        """Apply what is due: exits, pool transitions, AlwaysRunning pools getting their workers."""
        now = time.monotonic()
        for pool in self._process_hosts():
            for gone in [w for w in pool.workers if not w.alive(now)]:
                self._exited(pool, gone, gone.exits_at or now)
            pool.workers = [w for w in pool.workers if w.alive(now)]
            if pool.transition_to is not None and now >= pool.transition_at:
                pool.state, pool.transition_to = pool.transition_to, None
            if pool.state == STOPPED:
                for worker in pool.workers:
                    worker.exits_at = now
                    self._exited(pool, worker, now)
                pool.workers = []
                continue
            if pool.state == STARTED and pool.start_mode == ALWAYS_RUNNING and self.was_running:
                self._keep_running(pool, now)

    # ---- internals ----------------------------------------------------------------------------

    def _process_hosts(self) -> list[Pool]:
        return [self.machine_process] if self.iis5_isolation else list(self.pools.values())

    def _exited(self, pool: Pool, worker: Worker, at: float) -> None:
        self.events.append(ProcessEvent(at, "exit", pool.name, worker.pid))
        self.processes.free(worker.pid)
        for _, app in self.apps_of(pool):
            if app.child is not None and app.child_of == worker.pid:
                self._end_child(app, at)

    def _end_child(self, app: App, at: float) -> None:
        for process in (app.child, app.console_host):
            if process is not None:
                self.processes.free(process.pid)
        app.child, app.child_of, app.console_host = None, None, None

    def _keep_running(self, pool: Pool, now: float) -> None:
        active = [w for w in pool.workers if not w.retiring]
        if pool.disallow_overlapping_rotation and any(w.retiring for w in pool.workers):
            return  # the gap: the new worker waits until the old ones are gone
        for _ in range(pool.max_processes - len(active)):
            self.spawn(pool, now)

    def _record_failure(self, pool: Pool, now: float) -> None:
        if pool is self.machine_process or not pool.rapid_fail_protection:
            return
        pool.failures.append(now)
        self.log_was_event(pool, 5009)
        while pool.failures and pool.failures[0] < now - pool.rapid_fail_interval_s:
            pool.failures.popleft()
        if len(pool.failures) >= pool.rapid_fail_max:
            pool.state = STOPPED
            pool.stopped_by_rapid_fail = True
            self.log_was_event(pool, 5002)

    def _forget_appdomains(self, pool: Pool, pid: int | None = None) -> None:
        for _, app in self.apps_of(pool):
            if app.appdomain is not None and (pid is None or app.appdomain.worker_pid == pid):
                app.appdomain = None
