"""The steps every simulated operation shares, done as the scripts' prelude does them (prelude.ps1):
find the target, check the host, read the state into an `Observation`, wait (bounded) on a pool in
transition, and send the warm-up to this host with the binding's Host header.

Nothing here judges: a step either observes, or stops the operation (`Stop`) with the error code
the script would answer with when it cannot go on.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from bot.app.results import (
    AppDomainEntry,
    ErrorCode,
    Features,
    Observation,
    OperationParams,
    PoolSettings,
    WarmupAnswer,
    WorkerProcess,
)
from bot.sim.iis import STARTED, STARTING, STOPPING, App, Binding, IisServer, IisSite, Pool
from bot.sim.network import HostNetwork, HttpGet, host_get


class Cancelled(Exception):
    """The command was terminated (WS-Management Signal) or the farm is stopping."""


class Stop(Exception):
    """The operation cannot go on: the script's Stop-Operation, with its code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class OpContext:
    iis: IisServer
    cancel: threading.Event
    http_get: HttpGet
    started: float = 0.0

    def ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


@dataclass
class Target:
    site: IisSite
    app: App
    pool: Pool


# ---- host and target -----------------------------------------------------------------------------


def check_host(ctx: OpContext, op: str) -> None:
    """IIS version, IIS 5 isolation, WAS running: the script's first checks."""
    iis = ctx.iis
    if iis.iis5_isolation and op in ("apppool", "worker"):
        raise Stop("iis5_isolation", "this host runs IIS 6 in IIS 5.0 isolation mode: one aspnet_wp.exe serves every "
                   "application on the machine and there are no application pools, so recycling or killing it is "
                   "the server rung, which aspreset never runs; use the appdomain rung")
    if iis.iis_major_version < 7:
        raise Stop("iis_too_old", f"IIS {iis.iis_major_version} has no Microsoft.Web.Administration: the {op} "
                   "operation needs IIS 7 or later (see docs/supported.md)")
    if not iis.was_running:
        raise Stop("was_stopped", "WAS or W3SVC is not running: every site on this host is down and only the server "
                   "rung would help, which aspreset never runs; escalate to a person")


def resolve(iis: IisServer, p: OperationParams) -> Target:
    with iis.lock:
        site = iis.sites.get(p.iis_site)
        if site is None:
            raise Stop("site_not_found", "IIS has no site by the name given in the inventory")
        app_path = "/" + p.app_path.strip("/")
        app = site.apps.get(app_path)
        if app is None:
            raise Stop("app_not_found", f"IIS site has no application at {app_path}")
        if app.config_error:  # Get-CoreHosting reads the app's effective configuration
            raise Stop("internal", f"System.Runtime.InteropServices.COMException: {app.config_error}")
        if iis.iis5_isolation:
            return Target(site, app, iis.machine_process)
        if p.pool and p.pool != app.pool:
            raise Stop("bad_parameters", f"the inventory names pool '{p.pool}' but IIS runs this application in "
                       f"pool '{app.pool}': correct the inventory")
        pool = iis.pools.get(app.pool)
        if pool is None:
            raise Stop("pool_not_found", f"IIS has no application pool '{app.pool}'")
        return Target(site, app, pool)


def site_serves(t: Target, p: OperationParams) -> None:
    """Assert-SiteServes: a warm-up needs the site Started and bound to http or https."""
    if t.site.state != STARTED:
        raise Stop("site_stopped", f"the IIS site is {t.site.state}, so nothing could warm the application up or "
                   "show it answers: nothing was done; start the site first")
    if not any(b.protocol in ("http", "https") for b in t.site.bindings) and not p.warmup_url:
        raise Stop("site_stopped", "the IIS site has no http or https binding to warm the application up through, "
                   "and the inventory gives no warmup_url: nothing was done")


def deploy_quiet(ctx: OpContext, t: Target, p: OperationParams) -> str:
    """Assert-DeployQuiet: a file in bin/ written within `deploy_quiet_s` (either way) or changing
    between two looks `poll_ms` apart holds every rung; bin/ unreadable is recorded and the rung goes on."""
    if t.app.content_denied:
        return f"unreadable: access_denied: {content_denied(ctx.iis, t).message}"
    if ctx.cancel.wait(min(p.poll_ms / 1000, ctx.iis.timing.poll_s)):
        raise Cancelled
    now = time.monotonic()
    with ctx.iis.lock:
        recent = {name for name, at in t.app.bin_writes.items() if abs(now - at) < p.deploy_quiet_s}
        writing = sorted("bin\\" + name for name in recent | set(t.app.deploy_copying))
    if writing:
        shown = ", ".join(writing[:5]) + (f" and {len(writing) - 5} more" if len(writing) > 5 else "")
        raise Stop("deploy_in_progress", f"a deploy is still writing to bin/: {shown} changed within the last "
                   f"{p.deploy_quiet_s:g} s: nothing was done; ASP.NET restarts the application by itself when the "
                   "copy ends; retry when it has settled")
    return "quiet"


def cim_call(ctx: OpContext, p: OperationParams) -> None:
    """A CIM/WMI call with -OperationTimeoutSec: on a stuck WMI repository it fails after that bound."""
    if not ctx.iis.wmi_stuck:
        return
    if ctx.cancel.wait(p.cim_timeout_s):
        raise Cancelled
    raise Stop("wmi_timeout", f"a WMI call did not answer within {p.cim_timeout_s} s (-OperationTimeoutSec): the "
               "WMI repository on this host is stuck; check the Winmgmt service (winmgmt /verifyrepository)")


def settings(iis: IisServer, t: Target) -> PoolSettings:
    pool = t.pool
    return PoolSettings(
        start_mode=pool.start_mode,
        managed_runtime=pool.managed_runtime,
        hosting_model=t.app.hosting_model,
        aspnet_core=t.app.aspnet_core,
        max_processes=pool.max_processes,
        shutdown_time_limit_s=pool.shutdown_time_limit_s,
        disallow_overlapping_rotation=pool.disallow_overlapping_rotation,
        rapid_fail_protection=pool.rapid_fail_protection,
        rapid_fail_max_crashes=pool.rapid_fail_max,
        rapid_fail_interval_s=pool.rapid_fail_interval_s,
    )


def features(ctx: OpContext, p: OperationParams) -> Features:
    """Get-Features: Test-WmiProvider's CIM call is bounded like every other (a stuck repository)."""
    iis = ctx.iis
    if iis.wmi_provider:
        cim_call(ctx, p)
    return Features(wmi_provider=iis.wmi_provider, webadministration_module=iis.webadministration_module,
                    aspnet=iis.aspnet)


# ---- observing -----------------------------------------------------------------------------------


def workers(iis: IisServer, pool: Pool) -> list[WorkerProcess]:
    return [WorkerProcess(pid=w.pid, started_at=w.started_at) for w in iis.workers(pool)]


def appdomains(ctx: OpContext, t: Target, p: OperationParams) -> list[AppDomainEntry] | None:
    """The application's AppDomains: WMI first (bounded), else Microsoft.Web.Administration's
    WorkerProcesses[..].ApplicationDomains, which needs no WMI provider."""
    if ctx.iis.wmi_provider:
        cim_call(ctx, p)
    with ctx.iis.lock:
        ctx.iis.tick()
        domain = t.app.appdomain
        return [] if domain is None else [AppDomainEntry(id=domain.id, worker_pid=domain.worker_pid)]


def app_processes(iis: IisServer, t: Target) -> list[WorkerProcess]:
    """Get-Children: the processes under the pool's workers that are the app's own, by the image name
    of ANCM's processPath; never conhost.exe, the console host Windows attaches beside them."""
    image = t.app.process_name.lower()
    return sorted((WorkerProcess(pid=w.pid, started_at=w.started_at) for name, w in iis.child_processes(t.pool)
                   if name.lower() != "conhost.exe" and name.lower() == image), key=lambda w: w.pid)


def observe(ctx: OpContext, t: Target, p: OperationParams, *, domains: bool = False, children: bool = False,
            ) -> Observation:
    iis = ctx.iis
    if iis.read_fails():
        raise Stop("internal", "System.Runtime.InteropServices.COMException: the WAS service is busy "
                   "(simulated failing read)")
    return Observation(
        at_ms=ctx.ms(),
        pool_state=iis.state(t.pool),
        workers=workers(iis, t.pool),
        children=app_processes(iis, t) if children else [],
        appdomains=appdomains(ctx, t, p) if domains else None,
        app_restarts=iis.restart_counter() if iis.aspnet else None,
        app_offline=t.app.app_offline,
    )


def wait(ctx: OpContext, condition: Callable[[], bool], deadline: float, poll_ms: int) -> bool:
    """Poll `condition` until it holds or `deadline` passes (never past it)."""
    interval = min(poll_ms / 1000, ctx.iis.timing.poll_s)
    while True:
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if ctx.cancel.wait(min(interval, remaining)):
            raise Cancelled


def wait_settled(ctx: OpContext, t: Target, p: OperationParams, deadline: float) -> str:
    """Wait-PoolSettled: a bounded poll while the pool is Starting/Stopping."""
    iis = ctx.iis
    wait(ctx, lambda: iis.state(t.pool) not in (STARTING, STOPPING), deadline, p.poll_ms)
    state = iis.state(t.pool)
    if state in (STARTING, STOPPING):
        raise Stop("pool_transition_timeout", f"the application pool stayed {state} for {p.timeout_s:g} s")
    return state


def content_denied(iis: IisServer, t: Target) -> Stop:
    return Stop("access_denied", f"access denied to {t.app.physical_path} for {iis.account}: content on a UNC share "
                "needs delegation from a WinRM network logon (double hop): use CredSSP or Kerberos constrained "
                "delegation, or give the share's computer account access")


# ---- warm-up -------------------------------------------------------------------------------------


def warmup_request(t: Target, p: OperationParams, network: HostNetwork) -> tuple[str, str]:
    """(URL to connect to, Host header), as Get-WarmupRequest builds them: to this host (the bound
    IP, or for a binding to every address 127.0.0.1, or a listed address when HTTP.sys' listen list
    leaves loopback out) on the binding's port, with the URL's host name as Host header, or the
    binding's when the URL names an address."""
    binding = _binding(t.site, "")
    if p.warmup_url:
        parts = urllib.parse.urlsplit(p.warmup_url)
        scheme, name = parts.scheme, parts.hostname or ""
        binding = _binding(t.site, scheme)
        port = parts.port or (443 if scheme == "https" else 80)  # [Uri].Port: the scheme's default
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host = binding.host if binding is not None and _is_address(name) else name
    else:
        scheme = binding.protocol if binding else "http"
        port = binding.port if binding else 80
        path = p.warmup_path if p.warmup_path != "/" else t.app.path.rstrip("/") + "/"
        host = binding.host if binding else ""
    if host.startswith("*"):  # a wildcard host name is no Host header: any name under it routes there
        host = WILDCARD_NAME + host.lstrip("*")
    bound = binding.ip if binding is not None and binding.ip not in ("*", "", "0.0.0.0", "::") else ""
    address = url_host(bound or network.listen_address())
    header = host or address
    if (scheme, port) not in (("http", 80), ("https", 443)):  # RFC 7230: the port unless the default
        header = f"{header}:{port}"
    return f"{scheme}://{address}:{port}{path}", header


def warm_up(ctx: OpContext, t: Target, p: OperationParams, deadline: float, seen: Observation | None = None,
            ) -> list[WarmupAnswer]:
    """Invoke-Warmup: one GET, and one more when it is redirected to the same host (a native module
    answers some paths before ASP.NET runs); each with when it was sent and the workers of the last
    look before it. The last answer is the one that counts."""
    url, host = warmup_request(t, p, ctx.iis.network)
    answers = [_get(ctx, url, host, deadline, seen)]
    follow = same_host_redirect(url, host, answers[0], t.site)
    if follow is not None:
        answers.append(_get(ctx, *follow, deadline, seen))
    return answers


def _get(ctx: OpContext, url: str, host: str, deadline: float, seen: Observation | None) -> WarmupAnswer:
    at_ms = ctx.ms()
    answer = ctx.http_get(url, host, max(0.1, deadline - time.monotonic()))
    answer.at_ms = at_ms
    answer.workers_seen = list(seen.workers) if seen is not None else None
    return answer


REDIRECTS = (301, 302, 303, 307, 308)
WILDCARD_NAME = "aspreset-warmup"


def same_host_redirect(url: str, host_header: str, answer: WarmupAnswer, site: IisSite) -> tuple[str, str] | None:
    """(URL to connect to, Host header) of a redirect to the host the request named, when the site
    has a binding for its scheme and port: on that binding's address if it is bound to one (an https
    binding to one IP beside an http one to all), else on the address the first request went to;
    None for no redirect, one to another host (it leaves this server) or to a port the site does
    not listen on."""
    if answer.status not in REDIRECTS or not answer.location:
        return None
    sent = urllib.parse.urlsplit(url)
    target = urllib.parse.urlsplit(urllib.parse.urljoin(f"{sent.scheme}://{host_header}{sent.path}", answer.location))
    named = urllib.parse.urlsplit(f"{sent.scheme}://{host_header}/").hostname or ""
    if target.scheme not in ("http", "https") or (target.hostname or "") != named:
        return None
    port = target.port or (443 if target.scheme == "https" else 80)
    bound = [b for b in site.bindings if b.protocol == target.scheme and b.port == port]
    if not bound:
        return None
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    address = bound[0].ip if bound[0].ip not in ("*", "", "0.0.0.0", "::") else (sent.hostname or "127.0.0.1")
    return f"{target.scheme}://{url_host(address)}:{port}{path}", target.netloc


def url_host(address: str) -> str:
    """An address as it stands in a URL: an IPv6 literal in brackets."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _binding(site: IisSite, scheme: str) -> Binding | None:
    """The binding to warm up through: of the URL's scheme if it names one; an https binding with a
    host name first (an http one may be redirected to https by a native module, and a host name lets
    the certificate match), then http with a host name, then http, then https."""
    web = [b for b in site.bindings if b.protocol in ("http", "https")]
    wanted = [b for b in web if not scheme or b.protocol == scheme] or web
    ranked = sorted(wanted, key=lambda b: (not b.host, b.protocol != "https" if b.host else b.protocol != "http"))
    return ranked[0] if ranked else None


def _is_address(name: str) -> bool:
    if name.lower() == "localhost" or not name:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def loopback_get(url: str, host_header: str, timeout_s: float) -> WarmupAnswer:
    """One GET from a host with the default network whose bindings' ports are the loopback ports
    that serve them, http only (tests that run an operation outside a farm host)."""
    return host_get(HostNetwork(), lambda scheme, port: port if scheme == "http" else None)(url, host_header, timeout_s)
