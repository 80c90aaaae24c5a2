"""IIS's configuration and runtime objects in the simulated server: sites and their bindings,
applications, application pools, AppDomains (bot.sim.iis keeps and changes them)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bot.sim.processes import Worker

STARTED, STOPPED, STARTING, STOPPING = "Started", "Stopped", "Starting", "Stopping"
ON_DEMAND, ALWAYS_RUNNING = "OnDemand", "AlwaysRunning"
IN_PROCESS, OUT_OF_PROCESS = "inprocess", "outofprocess"


class ContentDenied(Exception):
    """The application's files are on a share the WinRM network logon cannot reach (double hop)."""


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
    # ASP.NET Core: inprocess | outofprocess, as <aspNetCore> in the app's effective configuration says;
    # "" = no ANCM handler. Whatever the pool's managedRuntimeVersion says: a Core app may run in a
    # v4.0 pool, and a No Managed Code pool may serve static files or PHP.
    hosting_model: str = ""
    # ANCM's processPath image out of process: MyApp.exe for apps published since .NET Core 3.0 and for
    # every self-contained one; dotnet.exe only for older framework-dependent ones.
    process_name: str = "MyApp.exe"
    child: Worker | None = None  # out of process: the app's process, a child of the worker
    console_host: Worker | None = None  # the conhost.exe Windows attaches beside it
    child_of: int | None = None  # the worker PID the child runs under
    content_denied: bool = False  # content on a UNC share the network logon cannot reach
    config_error: str = ""  # its effective configuration cannot be read (a malformed web.config): why
    redirect_to: str | None = None  # the app itself (ASP.NET) answers every request with a 301 to this URL
    ready_at: float = 0.0  # cold start: the first request after a (re)start waits until then
    failing_requests: int = 0  # the app answers this many next requests with a 500 (a start that stumbles)
    answer_delay_s: float = 0.0  # a slow app: each answer takes this long (`slow HOST MS` in the control)
    # A deploy writing to bin/: file name -> when it was last written (monotonic); the files in
    # `deploy_copying` are being copied now and change between any two looks.
    bin_writes: dict[str, float] = field(default_factory=dict)
    deploy_copying: tuple[str, ...] = ()
    # Requests the app is running now, as Request Monitor lists them: (verb, URL with its query, since when
    # (monotonic)). A kill of the worker ends them.
    in_flight: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def aspnet_core(self) -> bool:
        return bool(self.hosting_model)


@dataclass(frozen=True)
class Binding:
    protocol: str
    ip: str  # "*" = all unassigned; an IPv6 address without brackets (::1)
    port: int
    host: str  # "" = any Host header

    def __str__(self) -> str:  # as IIS writes bindingInformation: an IPv6 address in brackets
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.protocol}/{ip}:{self.port}:{self.host}"


@dataclass
class IisSite:
    name: str
    site_id: int
    bindings: list[Binding]
    state: str = STARTED
    apps: dict[str, App] = field(default_factory=dict)
    # Paths a native module answers with a redirect before ASP.NET runs (URL Rewrite, httpRedirect,
    # HSTS redirectHttpToHttps): path -> Location. No AppDomain starts for such a request.
    native_redirects: dict[str, str] = field(default_factory=dict)


@dataclass
class Pool:
    name: str
    managed_runtime: str = "v4.0"  # "" = No Managed Code (ASP.NET Core under ANCM)
    start_mode: str = ON_DEMAND
    max_processes: int = 1
    disallow_overlapping_rotation: bool = False
    shutdown_time_limit_s: float = 90.0
    rapid_fail_protection: bool = True
    rapid_fail_max: int = 5
    rapid_fail_interval_s: float = 300.0
    state: str = STARTED
    workers: list[Worker] = field(default_factory=list)
    failures: deque[float] = field(default_factory=deque)
    transition_to: str | None = None
    transition_at: float = 0.0
    stopped_by_rapid_fail: bool = False
    # What WAS logged for the pool in the System log: (event id, when (wall clock, UTC ISO 8601)).
    was_log: list[tuple[int, str]] = field(default_factory=list)

    def alive(self, now: float) -> list[Worker]:
        return [w for w in self.workers if w.alive(now)]

    def pids(self, now: float) -> list[int]:
        return sorted(w.pid for w in self.alive(now))


def host_name(site_name: str, site_id: int) -> str:
    """The host name a simulated site is bound to."""
    slug = "".join(c if c.isalnum() else "-" for c in site_name.lower()).strip("-")[:40] or "site"
    return f"{slug}-{site_id}.sim"


def default_physical_path(site: str, path: str) -> str:
    """Where a simulated application's content is, unless a test puts it elsewhere (a share)."""
    tail = path.strip("/").replace("/", "\\")
    base = f"C:\\inetpub\\{site}"
    return f"{base}\\{tail}" if tail else base
