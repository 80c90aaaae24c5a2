"""The simulator's stand-in for the PowerShell operations.

It does not interpret PowerShell. It recognises which operation a script is by the marker line
`# aspreset-operation: <op>` the real scripts carry, reads the parameters from the
`$AspresetParams = '<base64 JSON>'` line in front of it, runs the operation against the in-memory
IIS model and prints the same result model (`bot.app.results`) as one ASCII-escaped JSON line,
exit code 0, failures included (ok=false with an error_code). A script without a marker exits 1
with a message on stderr, as a PowerShell error would.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from bot.app.results import (
    RESULT_MODELS,
    DiscoveredApp,
    DiscoveredPool,
    DiscoveredSite,
    DiscoverResult,
    ErrorCode,
    OperationParams,
    RestartResult,
    StatusResult,
    WorkerProcess,
)
from bot.sim.iis import ALWAYS_RUNNING, STARTING, STOPPED, STOPPING, App, IisServer, IisSite, Pool
from bot.winrm.scripts import MARKER_PREFIX, PARAMS_VARIABLE

_MARKER = re.compile(r"^" + re.escape(MARKER_PREFIX) + r"([A-Za-z]+)\s*$", re.MULTILINE)
_PARAMS = re.compile(r"^" + re.escape(PARAMS_VARIABLE) + r" = '([A-Za-z0-9+/=]*)'\s*$", re.MULTILINE)
APPDOMAIN_METHODS = ("wmi-unload", "touch-web-config", "bin-marker")


class Cancelled(Exception):
    """The command was terminated (WS-Management Signal) or the farm is stopping."""


@dataclass(frozen=True)
class ScriptOutcome:
    stdout: bytes
    stderr: bytes
    exit_code: int


HttpGet = Callable[[str, float, str | None], tuple[int | None, int]]


@dataclass
class OpContext:
    iis: IisServer
    cancel: threading.Event
    http_get: HttpGet


def script_operation(script: str) -> str | None:
    """The operation named by the script's marker line, if any."""
    match = _MARKER.search(script)
    return match.group(1) if match else None


def script_params(script: str) -> str | None:
    """The base64 text of the parameters line, if any."""
    match = _PARAMS.search(script)
    return match.group(1) if match else None


def run_script(script: str, ctx: OpContext) -> ScriptOutcome:
    op = script_operation(script)
    if op is None or op not in RESULT_MODELS:
        return ScriptOutcome(
            b"",
            b"aspreset simulator: the script carries no '# aspreset-operation: <op>' marker line "
            b"(the simulator does not interpret PowerShell)\r\n",
            1,
        )
    params, problem = _decode_params(script)
    if params is None or params.op != op:
        problem = problem or f"the parameters are for operation {params.op if params else '?'}, the script is {op}"
        return _emit(_failure(op, "bad_parameters", problem))
    try:
        result = OPERATIONS[op](ctx, params)
    except Cancelled:
        raise
    except Exception as exc:  # a bug in the model must still answer like a script would
        result = _failure(op, "internal", f"simulator error: {type(exc).__name__}: {exc}")
    return _emit(result)


def _decode_params(script: str) -> tuple[OperationParams | None, str]:
    blob = script_params(script)
    if blob is None:
        return None, f"no {PARAMS_VARIABLE} line in front of the script"
    try:
        return OperationParams.model_validate_json(base64.b64decode(blob, validate=True)), ""
    except (binascii.Error, ValueError, ValidationError) as exc:
        return None, f"{PARAMS_VARIABLE} is not base64 JSON of the operation parameters: {type(exc).__name__}"


def _emit(result: BaseModel) -> ScriptOutcome:
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))
    return ScriptOutcome((text + "\r\n").encode("ascii"), b"", 0)


def _failure(op: str, code: ErrorCode, message: str, **fields: object) -> BaseModel:
    if op == "status":
        return StatusResult(ok=False, error_code=code, error=message)
    if op == "discover":
        return DiscoverResult(ok=False, error_code=code, error=message)
    values: dict[str, object] = {"op": op, "method": ""}
    values.update(fields)
    return RestartResult.model_validate({"ok": False, "error_code": code, "error": message, **values})


# ---- shared steps ------------------------------------------------------------------------------


@dataclass
class Target:
    site: IisSite
    app: App
    pool: Pool


def _resolve(iis: IisServer, p: OperationParams) -> Target | tuple[ErrorCode, str]:
    with iis.lock:
        site = iis.sites.get(p.iis_site)
        if site is None:
            return "site_not_found", f"IIS site {p.iis_site!r} not found (sites: {', '.join(iis.sites)})"
        app = site.apps.get(p.app_path)
        if app is None:
            return "app_not_found", f"application {p.app_path!r} not found in IIS site {p.iis_site!r}"
        if iis.iis5_isolation:
            return Target(site, app, iis.machine_process)
        pool = iis.pools.get(p.pool or app.pool)
        if pool is None:
            return "pool_not_found", f"application pool {p.pool!r} not found"
        return Target(site, app, pool)


def _stopped_message(pool: Pool) -> str:
    why = (
        "rapid-fail protection stopped it after repeated worker failures (WAS event 5002)"
        if pool.stopped_by_rapid_fail
        else "stopped by an operator, or by rapid-fail protection (check WAS event 5002)"
    )
    return (
        f"application pool {pool.name!r} is Stopped: {why}. A recycle needs a started pool; find why "
        "the worker fails (event log, application logs) before starting it again: it may crash again."
    )


def _wait(ctx: OpContext, condition: Callable[[], bool], deadline: float, poll_ms: int) -> bool:
    interval = min(poll_ms / 1000, ctx.iis.timing.poll_s)
    while True:
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if ctx.cancel.wait(min(interval, remaining)):
            raise Cancelled


def _wait_started(ctx: OpContext, t: Target, p: OperationParams, deadline: float) -> tuple[ErrorCode, str] | None:
    """Bounded poll while the pool is Starting/Stopping; then refuse Stopped."""
    iis = ctx.iis
    _wait(ctx, lambda: iis.state(t.pool) not in (STARTING, STOPPING), deadline, p.poll_ms)
    state = iis.state(t.pool)
    if state in (STARTING, STOPPING):
        return "pool_transition_timeout", (
            f"application pool {t.pool.name!r} stayed {state} until the deadline ({p.timeout_s:g} s); "
            "check WAS and the event log, then try again"
        )
    if state == STOPPED:
        return "pool_stopped", _stopped_message(t.pool)
    return None


def _preflight(ctx: OpContext, t: Target) -> tuple[ErrorCode, str] | None:
    if not ctx.iis.was_running:
        return "was_stopped", (
            "the Windows Process Activation Service (WAS/W3SVC) is not running: only the server rung "
            "would help, which aspreset never runs; a human must look at this server"
        )
    if t.app.app_offline:
        return "app_offline", (
            f"app_offline.htm is present in {t.app.physical_path}: the application is offline on purpose "
            "(a deploy in progress, or one left behind); no restart will help until it is removed"
        )
    return None


def _warm_up(ctx: OpContext, t: Target, p: OperationParams, deadline: float) -> tuple[int | None, int | None]:
    """GET the warm-up URL with the Host header of the site's binding, as IIS routes by it."""
    if not p.warmup_url:
        return None, None
    return ctx.http_get(p.warmup_url, max(0.1, deadline - time.monotonic()), ctx.iis.host_header(t.site))


def _ms_since(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


# ---- operations --------------------------------------------------------------------------------


_IIS5_NO_POOLS = (
    "IIS 6 runs in IIS 5.0 isolation mode: there are no application pools and one aspnet_wp.exe "
    "serves every application on the machine, so recycling it is the server rung; use the appdomain rung"
)
_IIS5_ONE_PROCESS = (
    "this host runs IIS 6 in IIS 5.0 isolation mode: aspnet_wp.exe is one process for every "
    "application on the machine, so killing it is the server rung, which aspreset never runs; "
    "use the appdomain rung"
)


def _start_pool_operation(
    ctx: OpContext, p: OperationParams, op: str, method: str, deadline: float, iis5_message: str
) -> Target | BaseModel:
    """What apppool and worker check before acting: the target exists, the host has pools at all,
    nothing blocks (app_offline, WAS), and the pool is Started (bounded wait). A failure result
    otherwise."""
    target = _resolve(ctx.iis, p)
    if not isinstance(target, Target):
        return _failure(op, target[0], target[1], method=method)
    if ctx.iis.iis5_isolation:
        return _failure(op, "iis5_isolation", iis5_message, method=method)
    refused = _preflight(ctx, target) or _wait_started(ctx, target, p, deadline)
    if refused:
        return _failure(op, *refused, method=method, state_before=ctx.iis.state(target.pool))
    return target


def op_status(ctx: OpContext, p: OperationParams) -> BaseModel:
    iis = ctx.iis
    target = _resolve(iis, p)
    if not isinstance(target, Target):
        return StatusResult(ok=False, error_code=target[0], error=target[1])
    pool = target.pool
    return StatusResult(
        ok=True,
        iis_major_version=iis.iis_major_version,
        worker_process_name="aspnet_wp" if iis.iis5_isolation else "w3wp",
        was_running=iis.was_running,
        pool_state="" if iis.iis5_isolation else iis.state(pool),
        start_mode="" if iis.iis5_isolation else pool.start_mode,
        managed_runtime=pool.managed_runtime,
        max_processes=pool.max_processes,
        workers=[WorkerProcess(pid=w.pid, started_at=w.started_at) for w in iis.workers(pool)],
        appdomain_id=iis.appdomain_id(target.app),
        app_offline=target.app.app_offline,
    )


def op_appdomain(ctx: OpContext, p: OperationParams) -> BaseModel:
    iis, start = ctx.iis, time.monotonic()
    deadline = start + p.timeout_s
    method = p.method or "wmi-unload"
    target = _resolve(iis, p)
    if not isinstance(target, Target):
        return _failure("appdomain", target[0], target[1], method=method)
    if method not in APPDOMAIN_METHODS:
        return _failure("appdomain", "bad_parameters", f"unknown appdomain method {method!r}", method=method)
    refused = _preflight(ctx, target) or _wait_started(ctx, target, p, deadline)
    if refused:
        return _failure("appdomain", *refused, method=method, state_before=iis.state(target.pool))
    pool, app = target.pool, target.app
    state_before, pids_before = iis.state(pool), iis.pids(pool)
    appdomain_before = iis.appdomain_id(app)
    core = not pool.managed_runtime
    if core:
        if method != "touch-web-config":
            return _failure(
                "appdomain",
                "appdomain_not_restarted",
                "an ASP.NET Core app (No Managed Code pool) has no AppDomain; use touch-web-config, "
                "which makes the ASP.NET Core Module restart the app",
                method=method,
                state_before=state_before,
                pids_before=pids_before,
            )
        iis.restart_core_app(pool)
    else:
        iis.unload_appdomain(app)
    status, ms = _warm_up(ctx, target, p, deadline)
    if core:
        _wait(ctx, lambda: not set(pids_before) & set(iis.pids(pool)), deadline, p.poll_ms)
    pids_after, appdomain_after = iis.pids(pool), iis.appdomain_id(app)
    result = RestartResult(
        ok=True,
        op="appdomain",
        method=method,
        state_before=state_before,
        state_after=iis.state(pool),
        pids_before=pids_before,
        pids_after=pids_after,
        appdomain_before=appdomain_before,
        appdomain_after=appdomain_after,
        warmup_status=status,
        warmup_ms=ms,
        drained=not set(pids_before) & set(pids_after),
        duration_ms=_ms_since(start),
    )
    if core:
        new_process = bool(set(pids_after) - set(pids_before)) or status is None
        restarted = not set(pids_before) & set(pids_after) and new_process
    else:
        restarted = appdomain_before is None or appdomain_after != appdomain_before
    if not restarted or (status is not None and status >= 400):
        result.ok = False
        result.error_code = "appdomain_not_restarted"
        result.error = (
            f"the application did not come back with a new {'process' if core else 'AppDomain'} "
            f"(warm-up status {status})"
        )
    return result


def op_apppool(ctx: OpContext, p: OperationParams) -> BaseModel:
    iis, start = ctx.iis, time.monotonic()
    deadline = start + p.timeout_s
    method = p.method or "recycle"
    target = _start_pool_operation(ctx, p, "apppool", method, deadline, _IIS5_NO_POOLS)
    if not isinstance(target, Target):
        return target
    pool, app = target.pool, target.app
    state_before, pids_before = iis.state(pool), iis.pids(pool)
    appdomain_before = iis.appdomain_id(app)
    iis.recycle(pool)
    recycled_at = time.monotonic()
    status, ms = _warm_up(ctx, target, p, deadline)
    wants_new = status is not None or pool.start_mode == ALWAYS_RUNNING
    finish_by = min(deadline, recycled_at + pool.shutdown_time_limit_s)

    def finished() -> bool:
        now_pids = set(iis.pids(pool))
        return not set(pids_before) & now_pids and (not wants_new or bool(now_pids))

    _wait(ctx, finished, finish_by, p.poll_ms)
    pids_after = iis.pids(pool)
    still = sorted(set(pids_before) & set(pids_after))
    result = RestartResult(
        ok=True,
        op="apppool",
        method=method,
        state_before=state_before,
        state_after=iis.state(pool),
        pids_before=pids_before,
        pids_after=pids_after,
        appdomain_before=appdomain_before,
        appdomain_after=iis.appdomain_id(app),
        warmup_status=status,
        warmup_ms=ms,
        drained=not still,
        duration_ms=_ms_since(start),
    )
    if still:
        waited = min(pool.shutdown_time_limit_s, p.timeout_s)
        result.ok = False
        result.error_code = "recycle_not_finished"
        result.error = (
            f"the recycle of pool {pool.name!r} did not finish: worker process(es) "
            f"{', '.join(map(str, still))} still running {waited:g} s later (shutdownTimeLimit "
            f"{pool.shutdown_time_limit_s:g} s); the worker is hung and only the worker rung "
            "(kill by PID, needs approval) frees it"
        )
    elif wants_new and not set(pids_after) - set(pids_before):
        result.ok = False
        result.error_code = "worker_not_started"
        result.error = f"no new worker process started for pool {pool.name!r} (warm-up status {status})"
    return result


def op_worker(ctx: OpContext, p: OperationParams) -> BaseModel:
    iis, start = ctx.iis, time.monotonic()
    deadline = start + p.timeout_s
    method = p.method or "kill-and-warm-up"
    target = _start_pool_operation(ctx, p, "worker", method, deadline, _IIS5_ONE_PROCESS)
    if not isinstance(target, Target):
        return target
    pool, app = target.pool, target.app
    state_before, pids_before = iis.state(pool), iis.pids(pool)
    appdomain_before = iis.appdomain_id(app)
    for pid in pids_before:
        iis.kill(pool, pid)
    if iis.state(pool) == STOPPED:
        return _failure(
            "worker",
            "pool_stopped",
            f"killing the worker tripped rapid-fail protection: {_stopped_message(pool)}",
            method=method,
            state_before=state_before,
            state_after=STOPPED,
            pids_before=pids_before,
            duration_ms=_ms_since(start),
        )
    status, ms = _warm_up(ctx, target, p, deadline)
    wants_new = status is not None or pool.start_mode == ALWAYS_RUNNING
    _wait(ctx, lambda: bool(set(iis.pids(pool)) - set(pids_before)) or not wants_new, deadline, p.poll_ms)
    pids_after = iis.pids(pool)
    result = RestartResult(
        ok=True,
        op="worker",
        method=method,
        state_before=state_before,
        state_after=iis.state(pool),
        pids_before=pids_before,
        pids_after=pids_after,
        appdomain_before=appdomain_before,
        appdomain_after=iis.appdomain_id(app),
        warmup_status=status,
        warmup_ms=ms,
        drained=not set(pids_before) & set(pids_after),
        duration_ms=_ms_since(start),
    )
    if wants_new and not set(pids_after) - set(pids_before):
        result.ok = False
        result.error_code = "worker_not_started"
        result.error = f"no new worker process started for pool {pool.name!r} (warm-up status {status})"
    return result


def op_discover(ctx: OpContext, p: OperationParams) -> BaseModel:
    iis = ctx.iis
    with iis.lock:
        sites = [
            DiscoveredSite(
                name=site.name,
                state=site.state,
                bindings=list(site.bindings),
                apps=[
                    DiscoveredApp(path=a.path, pool="" if iis.iis5_isolation else a.pool, physical_path=a.physical_path)
                    for a in site.apps.values()
                ],
            )
            for site in iis.sites.values()
        ]
        pools = [
            DiscoveredPool(
                name=pool.name,
                state=pool.state,
                managed_runtime=pool.managed_runtime,
                start_mode=pool.start_mode,
                max_processes=pool.max_processes,
            )
            for pool in ([] if iis.iis5_isolation else iis.pools.values())
        ]
    return DiscoverResult(
        ok=True,
        iis_major_version=iis.iis_major_version,
        iis5_isolation=iis.iis5_isolation,
        sites=sites,
        pools=pools,
    )


OPERATIONS: dict[str, Callable[[OpContext, OperationParams], BaseModel]] = {
    "status": op_status,
    "appdomain": op_appdomain,
    "apppool": op_apppool,
    "worker": op_worker,
    "discover": op_discover,
}


def loopback_get(url: str, timeout_s: float, host_header: str | None = None) -> tuple[int | None, int]:
    """A real HTTP GET, as the scripts' warm-up does; the simulator only warms up loopback URLs."""
    start = time.monotonic()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None, 0
    try:
        request = urllib.request.Request(url, headers={"Host": host_header} if host_header else {})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
            status: int | None = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError):
        status = None
    return status, _ms_since(start)
