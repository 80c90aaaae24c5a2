"""The simulator's read-only operations, status and discover: the same readings as status.ps1 and
discover.ps1, from the IIS model."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bot.app.results import (
    BeforeActing,
    DiscoveredApp,
    DiscoveredPool,
    DiscoveredSite,
    DiscoverResult,
    InFlightRequest,
    OperationParams,
    PoolApp,
    ProbeResult,
    ProbeWorker,
    StatusResult,
    WasEvent,
    WorkerProcess,
    joined_ids,
)
from bot.sim.iis import OUT_OF_PROCESS, App, IisServer
from bot.sim.observe import OpContext, Stop, Target, deploy_quiet, features, observe, resolve, settings, warm_up
from bot.sim.processes import Worker


def op_status(ctx: OpContext, p: OperationParams) -> StatusResult:
    iis = ctx.iis
    result = StatusResult(ok=False, powershell_version=iis.powershell_version, iis_major_version=iis.iis_major_version,
                          was_running=iis.was_running, features=features(ctx, p))
    if iis.iis5_isolation:
        # IIS 5 isolation: one aspnet_wp.exe for the whole machine, no application pools.
        result.worker_process_name = "aspnet_wp"
        result.workers = [WorkerProcess(pid=w.pid, started_at=w.started_at) for w in iis.workers(iis.machine_process)]
        result.ok = True
        return result
    if iis.iis_major_version < 7:
        raise Stop("iis_too_old", f"status reads IIS 7 or later (Microsoft.Web.Administration); this host runs IIS "
                   f"{iis.iis_major_version}")
    t = resolve(iis, p)
    core_child = t.app.hosting_model == OUT_OF_PROCESS
    if p.warm_up:  # the none rung: a look before the warm-up, then one after it
        result.deploy_check = deploy_quiet(ctx, t, p)  # a deploy still writing to bin/ holds it too
        result.before = observe(ctx, t, p, domains=not t.app.aspnet_core, children=core_child)
        result.warmups.extend(warm_up(ctx, t, p, ctx.started + p.timeout_s, result.before))
    seen = observe(ctx, t, p, domains=not t.app.aspnet_core, children=core_child)
    result.settings = settings(iis, t)
    result.observed = seen
    result.pool_state = seen.pool_state
    result.start_mode = t.pool.start_mode
    result.managed_runtime = t.pool.managed_runtime
    result.max_processes = t.pool.max_processes
    result.workers = seen.workers
    result.appdomain_id = joined_ids(seen.appdomains)
    result.app_offline = seen.app_offline
    if t.pool.rapid_fail_protection:  # Get-PoolCrashes: the pool's WAS events 5009-5011 within its interval
        if iis.was_events_readable:
            result.crashes_seen = iis.failure_events(t.pool)
        else:
            result.crashes_error = ("access_denied: System.UnauthorizedAccessException: Attempted to perform an "
                                    "unauthorized operation (the System log)")
    if p.before_acting:
        result.before_acting = before_acting(iis, t, p)
    result.ok = True
    return result


def op_probe(ctx: OpContext, p: OperationParams) -> ProbeResult:
    """probe.ps1: the warm-up's request bounded by the watch's timeout, then the pool and its workers
    with their private bytes; for a Stopped pool, when rapid-fail protection stopped it (WAS 5002)."""
    iis = ctx.iis
    if iis.iis_major_version < 7:
        raise Stop("iis_too_old", f"the watch reads IIS 7 or later (Microsoft.Web.Administration); this host runs "
                   f"IIS {iis.iis_major_version}")
    t = resolve(iis, p)
    result = ProbeResult(ok=True, powershell_version=iis.powershell_version)
    result.warmups.extend(warm_up(ctx, t, p, time.monotonic() + p.timeout_s))
    with iis.lock:
        result.pool_state = iis.state(t.pool)
        result.workers = [_probe_worker(w) for w in iis.workers(t.pool)]
        if t.pool.stopped_by_rapid_fail and t.pool.failures:
            ago = timedelta(seconds=time.monotonic() - t.pool.failures[-1])  # the failure that stopped it
            result.rapid_fail_stop_at = (datetime.now(UTC) - ago).isoformat().replace("+00:00", "Z")
    return result


def _probe_worker(worker: Worker) -> ProbeWorker:
    return ProbeWorker(pid=worker.pid, started_at=worker.started_at, private_bytes=worker.private_bytes)


WAS_EVENT_IDS = (5002, 5009, 5010, 5011, 5013)


def before_acting(iis: IisServer, t: Target, p: OperationParams) -> BeforeActing:
    """Get-BeforeActing: the pool's applications as IIS has them, the content's path, the requests in
    flight (Request Monitor) without their query strings, and the pool's recent WAS events."""
    seen = BeforeActing(physical_path=t.app.physical_path)
    with iis.lock:
        iis.tick()
        seen.pool_apps = [PoolApp(site=site.name, path=app.path, physical_path=app.physical_path)
                          for site, app in iis.apps_of(t.pool)]
        pids = [w.pid for w in t.pool.alive(time.monotonic())]
        if not iis.request_monitor:
            seen.requests_unknown = "Request Monitor not installed"
        else:
            now = time.monotonic()
            seen.requests = [InFlightRequest(verb=verb, path=url.split("?")[0], elapsed_ms=int((now - since) * 1000),
                                             worker_pid=pids[0])
                             for _, app in iis.apps_of(t.pool) for verb, url, since in app.in_flight if pids]
        if not iis.was_events_readable:
            seen.was_events_unknown = "access_denied: the System log could not be read"
        else:
            since = datetime.now(UTC) - timedelta(seconds=p.events_since_s)
            since_at = since.isoformat(timespec="microseconds").replace("+00:00", "Z")
            seen.was_events = [WasEvent(id=event_id, at=at) for event_id, at in t.pool.was_log
                               if event_id in WAS_EVENT_IDS and at >= since_at]
    return seen


def op_discover(ctx: OpContext, p: OperationParams) -> DiscoverResult:
    iis = ctx.iis
    result = DiscoverResult(ok=True, powershell_version=iis.powershell_version,
                            iis_major_version=iis.iis_major_version, iis5_isolation=iis.iis5_isolation,
                            features=features(ctx, p))
    if iis.iis_major_version < 7:
        return result  # IIS 6: the version and the isolation mode are all there is to report
    with iis.lock:
        result.sites = [
            DiscoveredSite(
                name=site.name,
                state=site.state,
                bindings=[str(b) for b in site.bindings],
                apps=[_discovered(a) for a in site.apps.values()],
            )
            for site in iis.sites.values()
        ]
        result.pools = [
            DiscoveredPool(name=pool.name, state=pool.state, managed_runtime=pool.managed_runtime,
                           start_mode=pool.start_mode, max_processes=pool.max_processes)
            for pool in iis.pools.values()
        ]
    return result


def _discovered(app: App) -> DiscoveredApp:
    """Get-DiscoveredApp: ASP.NET Core by the app's ANCM handler; an unreadable configuration is
    reported on that app alone."""
    found = DiscoveredApp(path=app.path, pool=app.pool, physical_path=app.physical_path,
                          aspnet_core=app.aspnet_core, hosting_model=app.hosting_model)
    if app.config_error:
        found.aspnet_core, found.hosting_model = None, ""
        found.config_error = f"internal: System.Runtime.InteropServices.COMException: {app.config_error}"
    return found
