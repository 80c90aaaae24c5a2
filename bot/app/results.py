"""The contract between the PowerShell operations, the executor and the simulated farm.

Every script receives one `OperationParams` (base64 JSON) and prints exactly one JSON object whose
keys are exactly the fields of the result model for its operation. `bot/sim` produces the same
models, and a test checks the scripts' keys against these models from their parse trees.

Scripts observe and act; they do not judge. A restart's result is what the host saw: the state
before (`before`), what the script did and when (`actions`), the state right after acting
(`acted`), the warm-up answers (`warmups`) and the state at the end (`after`), with worker PIDs and
their start times, the application's AppDomain entries and the ASP.NET `Application Restarts`
counter. `ok=false` means the script could not do its steps (the target is missing, the pool is
Stopped, PowerShell is too old...), with an `error_code`. Whether the restart happened is decided
in one place, `bot.app.verification`, for real hosts and the simulator alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Operation = Literal["status", "appdomain", "apppool", "worker", "discover", "probe"]

# Stable error codes a script (or the simulator) reports; matched by code, never by message text.
ErrorCode = Literal[
    "site_not_found",
    "app_not_found",
    "pool_not_found",
    "pool_stopped",  # rapid-fail protection (WAS event 5002) or an operator stopped it
    "pool_transition_timeout",  # stuck in Starting/Stopping past the deadline
    "app_offline",  # app_offline.htm present: no restart will help
    "site_stopped",  # the IIS site is not Started, or has no http(s) binding to warm up through
    "deploy_in_progress",
    "was_stopped",  # WAS/W3SVC not running: only the server rung would help
    "iis5_isolation",  # aspnet_wp.exe host: killing the worker is the server rung
    "iis_too_old",  # IIS 6 or older: no Microsoft.Web.Administration
    "powershell_too_old",  # Windows PowerShell below 3.0 (docs/iis-behaviour.md)
    "constrained_language",  # PowerShell runs in ConstrainedLanguage mode (WDAC/AppLocker enforce it)
    "wmi_provider_missing",  # no root\WebAdministration and no other way to the AppDomains
    "wmi_timeout",  # a CIM/WMI call passed its -OperationTimeoutSec (a stuck WMI repository)
    "rapid_fail_risk",  # a kill would trip rapid-fail protection, or the WAS events could not be read
    "access_denied",  # also: content on a UNC share the network logon cannot reach (double hop)
    "bad_parameters",
    "internal",
]

# The least Windows PowerShell the operations need (ConvertTo-Json, Get-CimInstance, [ordered]).
POWERSHELL_NEEDED = "3.0"

MAX_SCRIPT_TIMEOUT_S = 900
"""The longest a script may wait on a host: the one limit `[winrm] command_timeout_s` is checked against."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperationParams(Model):
    """What a script is told. Travels only as one base64 JSON blob, never pasted into source."""

    op: Operation
    request_id: str = ""
    iis_site: str = ""
    app_path: str = "/"
    pool: str = ""
    method: str = ""  # appdomain: wmi-unload | touch-web-config | bin-marker
    fallback: str = ""  # wmi-unload without the WMI provider: mwa-unload (default) | touch-web-config | refuse
    warmup_url: str = ""  # an explicit URL: its host name becomes the Host header, sent to this host
    warmup_path: str = "/"  # without a URL: this path on the site's own binding
    timeout_s: float = Field(default=120.0, gt=0, le=MAX_SCRIPT_TIMEOUT_S)
    poll_ms: int = Field(default=500, ge=50, le=10_000)
    cim_timeout_s: int = Field(default=15, ge=1, le=300)  # -OperationTimeoutSec of every CIM call
    warm_up: bool = False  # status: send the warm-up first (the `none` rung), then read the state
    # A file in bin/ written within this many seconds (or changing between two looks) is a deploy still
    # copying: every rung holds (deploy_in_progress).
    deploy_quiet_s: float = Field(default=5.0, ge=0, le=300)
    # status: also read what the plan shows before acting (BeforeActing): the pool's applications, the
    # content's path, the requests in flight and the pool's WAS events within `events_since_s`
    before_acting: bool = False
    events_since_s: float = Field(default=3600.0, gt=0, le=7 * 86400)


class WorkerProcess(Model):
    """A process is (PID, start time): Windows reuses PIDs."""

    pid: int
    started_at: str  # ISO 8601, UTC


class AppDomainEntry(Model):
    """One loaded AppDomain of the application, as WMI or Microsoft.Web.Administration lists it.
    Its `id` is often the application's path (/LM/W3SVC/1/ROOT/shop) and may never change."""

    id: str
    worker_pid: int


class Observation(Model):
    """The target's state at one moment, read on the host."""

    at_ms: int = 0  # since the script started
    pool_state: str = ""  # Started | Stopped | Starting | Stopping (not localised)
    workers: list[WorkerProcess] = Field(default_factory=list)
    # ANCM out of process: the app's own process under the workers
    children: list[WorkerProcess] = Field(default_factory=list)
    appdomains: list[AppDomainEntry] | None = None  # None: could not be read on this host
    app_restarts: int | None = None  # ASP.NET counter `Application Restarts` (machine-wide, since W3SVC started)
    app_offline: bool = False


class Action(Model):
    """One thing the script did to the host."""

    step: str  # unload | touch-web-config | bin-marker | recycle | kill | none
    target: str = ""  # what it acted on: a PID, a file path, the pool
    at_ms: int = 0


class WarmupAnswer(Model):
    """One warm-up request as HTTP.sys routed it: to this host, with the binding's Host header,
    no redirect followed."""

    url: str  # what was requested (connection address and path)
    host_header: str = ""
    status: int | None = None  # None: no answer (see failure)
    server: str = ""  # `Microsoft-HTTPAPI/2.0`: HTTP.sys answered itself, not the app
    location: str = ""  # a redirect's target (not followed: the app answered)
    ms: int = 0
    failure: str = ""  # timeout | refused | tls | ... when there was no HTTP answer
    offline_page: bool = False  # the body is the app_offline.htm page
    # The body's first "HTTP Error NNN..." line: HTTP.sys' own pages carry a fixed one, which tells them
    # apart also when its Server header is switched off (DisableServerHeader).
    error_line: str = ""
    at_ms: int = 0  # when it was sent, since the script started
    # The pool's workers at the last look before it was sent (None: no look before it, as for the
    # none rung): during an overlapped recycle HTTP.sys hands requests to the old worker until the
    # new one is ready, so an answer sent while an old worker ran may be the old worker's.
    workers_seen: list[WorkerProcess] | None = None


class PoolSettings(Model):
    """The pool's configuration as IIS has it (what the waits and the plan depend on)."""

    start_mode: str = "OnDemand"
    managed_runtime: str = "v4.0"  # "" = No Managed Code (ASP.NET Core, static files, PHP...)
    # The application runs under the ASP.NET Core Module (an ANCM handler in its effective configuration),
    # whatever the pool's runtime version says.
    aspnet_core: bool = False
    hosting_model: str = ""  # ASP.NET Core: inprocess | outofprocess (its <aspNetCore> section)
    max_processes: int = 1
    shutdown_time_limit_s: float = 90.0
    disallow_overlapping_rotation: bool = False
    rapid_fail_protection: bool = True
    rapid_fail_max_crashes: int = 5
    rapid_fail_interval_s: float = 300.0


class Features(Model):
    """Optional IIS features (docs/iis-behaviour.md): None when it could not be told."""

    wmi_provider: bool | None = None  # root\WebAdministration (Web-Scripting-Tools)
    webadministration_module: bool | None = None  # the WebAdministration PowerShell module
    aspnet: bool | None = None  # ASP.NET 4.x (Web-Asp-Net45)


class PoolApp(Model):
    """One application that IIS runs in the pool (on this host), whatever the inventory says."""

    site: str  # the IIS site's name
    path: str  # the application's path in it
    physical_path: str = ""  # environment variables expanded; \\server\share\... for content on a share


class InFlightRequest(Model):
    """A request a worker of the pool is running (WorkerProcess.GetRequests)."""

    verb: str
    path: str  # the URL without its query string, which may carry secrets
    elapsed_ms: int
    worker_pid: int


class WasEvent(Model):
    """One event WAS logged in the System log for the pool (5002, 5009-5011, 5013)."""

    id: int
    at: str  # ISO 8601, UTC


class BeforeActing(Model):
    """What status reads with `before_acting`: judged in bot.app.before_acting, shown in the plan."""

    pool_apps: list[PoolApp] = Field(default_factory=list)
    physical_path: str = ""  # the target application's content folder
    requests: list[InFlightRequest] | None = None  # None: not known, `requests_unknown` says why
    requests_unknown: str = ""
    was_events: list[WasEvent] | None = None  # None: the System log could not be read, `was_events_unknown` says why
    was_events_unknown: str = ""


class StatusResult(Model):
    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    op: Literal["status"] = "status"
    powershell_version: str = ""
    iis_major_version: int = 0
    worker_process_name: str = "w3wp"
    was_running: bool = True
    pool_state: str = ""  # Started | Stopped | Starting | Stopping (not localised)
    start_mode: str = ""  # OnDemand | AlwaysRunning
    managed_runtime: str = ""  # v4.0, v2.0, or "" for No Managed Code (ASP.NET Core)
    max_processes: int = 1
    workers: list[WorkerProcess] = Field(default_factory=list)
    appdomain_id: str | None = None  # the AppDomain ids joined; kept for the --json contract
    app_offline: bool = False
    settings: PoolSettings | None = None
    before: Observation | None = None  # with warm_up: the state before the warm-up
    observed: Observation | None = None
    features: Features = Field(default_factory=Features)
    warmups: list[WarmupAnswer] = Field(default_factory=list)  # with warm_up: the answer, then the state
    deploy_check: str = ""  # with warm_up: see RestartResult.deploy_check
    # The pool's failures in the System log (WAS events 5009-5011, kills included) within its rapid-fail
    # interval; None: not read (protection off) or unreadable (crashes_error says why)
    crashes_seen: int | None = None
    crashes_error: str = ""
    before_acting: BeforeActing | None = None  # with before_acting


class RestartResult(Model):
    ok: bool  # the script did its steps; whether the restart happened is judged in bot.app.verification
    error_code: ErrorCode | None = None
    error: str | None = None
    op: Operation
    method: str = ""
    powershell_version: str = ""
    settings: PoolSettings | None = None
    before: Observation | None = None
    actions: list[Action] = Field(default_factory=list)
    acted: Observation | None = None  # right after acting, before any warm-up
    warmups: list[WarmupAnswer] = Field(default_factory=list)
    after: Observation | None = None
    wait_ended: str = ""  # condition | deadline | shutdown_time_limit | pool_stopped | not_routed
    # Looks after the act that failed ("<error code>: <text>"); the wait went on and looked again.
    look_errors: list[str] = Field(default_factory=list)
    # worker: the pool's failures in the System log (WAS events 5009-5011) within its rapid-fail interval,
    # read before killing (None: not read)
    crashes_seen: int | None = None
    # The look for a deploy still writing to bin/ before acting: "quiet", or "unreadable: <code>: <text>"
    # when bin/ could not be listed (the rung went on; a touch there fails as access_denied)
    deploy_check: str = ""
    duration_ms: int = 0


class DiscoveredApp(Model):
    path: str
    pool: str
    physical_path: str
    # ASP.NET Core: an ANCM handler in the app's effective configuration (not the pool's runtime version);
    # None when that configuration could not be read (config_error says why)
    aspnet_core: bool | None = False
    hosting_model: str = ""  # ASP.NET Core: inprocess | outofprocess
    config_error: str = ""


class DiscoveredSite(Model):
    name: str
    state: str
    bindings: list[str] = Field(default_factory=list)
    apps: list[DiscoveredApp] = Field(default_factory=list)


class DiscoveredPool(Model):
    name: str
    state: str
    managed_runtime: str
    start_mode: str
    max_processes: int


class DiscoverResult(Model):
    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    op: Literal["discover"] = "discover"
    powershell_version: str = ""
    iis_major_version: int = 0
    iis5_isolation: bool = False
    features: Features = Field(default_factory=Features)
    sites: list[DiscoveredSite] = Field(default_factory=list)
    pools: list[DiscoveredPool] = Field(default_factory=list)


class ProbeWorker(Model):
    """A worker process as the watch sees it: (PID, start time) and its private bytes."""

    pid: int
    started_at: str
    private_bytes: int | None = None  # None: could not be read


class ProbeResult(Model):
    """One health probe (the watch): the warm-up's request with the watch's timeout as `timeout_s`,
    then the pool's state and workers. bot.app.watch.classify judges it."""

    ok: bool
    error_code: ErrorCode | None = None
    error: str | None = None
    op: Literal["probe"] = "probe"
    powershell_version: str = ""
    pool_state: str = ""
    workers: list[ProbeWorker] = Field(default_factory=list)
    warmups: list[WarmupAnswer] = Field(default_factory=list)  # the last one is the answer that counts
    rapid_fail_stop_at: str = ""  # a Stopped pool: when WAS last logged event 5002 for it ("" none/unread)


OperationResult = StatusResult | RestartResult | DiscoverResult | ProbeResult

RESULT_MODELS: dict[str, type[Model]] = {
    "status": StatusResult,
    "appdomain": RestartResult,
    "apppool": RestartResult,
    "worker": RestartResult,
    "discover": DiscoverResult,
    "probe": ProbeResult,
}


WMF_URL = "https://www.microsoft.com/download/details.aspx?id=54616"
"""Windows Management Framework 5.1: how a host with PowerShell below 3.0 gets a newer one."""


def joined_ids(entries: list[AppDomainEntry] | None) -> str | None:
    """AppDomain ids sorted and joined with commas (the shape `appdomain_id` always had); None if none."""
    if not entries:
        return None
    return ",".join(sorted(entry.id for entry in entries))
