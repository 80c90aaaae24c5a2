"""The simulator's appdomain, apppool and worker operations: the same steps as appdomain.ps1,
apppool.ps1 and worker.ps1, done against the IIS model, reporting the same observations. Like the
scripts they decide only when to stop looking (a condition met, a bound passed, the pool Stopped);
whether the restart happened is judged by bot.app.verification."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bot.app.results import Action, Observation, OperationParams, RestartResult, WarmupAnswer
from bot.sim.http_sys import HTTP_API
from bot.sim.iis import OUT_OF_PROCESS, STOPPED, ContentDenied
from bot.sim.observe import (
    Cancelled,
    OpContext,
    Stop,
    Target,
    check_host,
    content_denied,
    deploy_quiet,
    observe,
    resolve,
    settings,
    site_serves,
    wait,
    wait_settled,
    warm_up,
)

APPDOMAIN_METHODS = ("wmi-unload", "touch-web-config", "bin-marker")
# How long after acting the scripts look for the old entry or process to go (a request in flight can keep it).
GONE_WAIT_S = 10.0
HTTP_SYS_LINE = re.compile(r"HTTP Error \d{3}\. ")  # HTTP.sys' own pages; IIS's own say "404.0 - Not Found"
NO_ASPNET = ("the application runs no ASP.NET: its pool has no managed runtime and no ASP.NET Core module handler "
             "serves it (static files, PHP...), so there is no AppDomain to restart; use --scope apppool")


def drain_margin_s(limit_s: float) -> float:
    """How long past shutdownTimeLimit a recycle is waited for (WAS kills a hung worker at the limit)."""
    return 1.0 + 0.1 * limit_s


class Run:
    """One operation's result as it is filled in, step by step (the scripts' $result)."""

    def __init__(self, ctx: OpContext, p: OperationParams, method: str) -> None:
        self.ctx, self.p = ctx, p
        self.result = RestartResult(ok=False, op=p.op, method=method, powershell_version=ctx.iis.powershell_version)
        self.deadline = ctx.started + p.timeout_s

    def act(self, step: str, target: str = "") -> None:
        self.result.actions.append(Action(step=step, target=target, at_ms=self.ctx.ms()))

    def prepare(self, *, domains: bool = False) -> Target:
        """Host checks, the target, its settings, the state before; refuses a Stopped pool, app_offline and
        a deploy still writing to bin/."""
        check_host(self.ctx, self.p.op)
        t = resolve(self.ctx.iis, self.p)
        site_serves(t, self.p)
        self.result.settings = settings(self.ctx.iis, t)
        state = wait_settled(self.ctx, t, self.p, self.deadline)
        self.result.before = self.look(t, domains=domains)
        self.result.before.pool_state = state
        if state == STOPPED:
            raise Stop("pool_stopped", "the application pool is Stopped (rapid-fail protection after repeated "
                       "worker failures, WAS event 5002, or an operator stopped it): nothing was done")
        if self.result.before.app_offline:
            raise Stop("app_offline", f"app_offline.htm is present in {t.app.physical_path}: the application is "
                       "offline on purpose (a deploy in progress or a leftover); no restart helps until it is removed")
        self.result.deploy_check = deploy_quiet(self.ctx, t, self.p)
        return t

    def look(self, t: Target, *, domains: bool = False) -> Observation:
        core_child = t.app.hosting_model == OUT_OF_PROCESS
        return observe(self.ctx, t, self.p, domains=domains and not t.app.aspnet_core, children=core_child)

    def look_after_act(self, t: Target, *, domains: bool = False) -> Observation | None:
        """Get-LookAfterAct: a failed look is recorded in look_errors and answers None; the caller
        looks again, so one failed read does not end the operation without its after-state."""
        try:
            return self.look(t, domains=domains)
        except Stop as failed:
            self.result.look_errors.append(f"{failed.code}: {failed.message}")
            return None

    def warm_up_until(self, t: Target, done: Callable[[Observation], bool], *, domains: bool = False,
                      drain_until: float | None = None, old_gone: Callable[[Observation], bool] | None = None) -> None:
        """Warm up, then look again, until `done` holds for a look after an answer; every look reads
        the pool state and a Stopped pool ends the wait at once. The old workers are waited for up
        to `drain_until`, the rest up to the operation's deadline."""
        answer: WarmupAnswer | None = None
        seen = self.result.acted
        fresh = False  # the answer was sent when no old worker was left (overlap: the old one answers)
        while True:
            if not _served(answer) or not fresh or not done(seen or Observation()):
                fresh = seen is not None and (old_gone is None or old_gone(seen))
                answers = warm_up(self.ctx, t, self.p, self.deadline, seen)
                self.result.warmups.extend(answers)
                answer = answers[-1]
            assert answer is not None  # asked on the first round at the latest
            look = self.look_after_act(t, domains=domains)
            now = time.monotonic()
            if look is None:
                if now >= self.deadline:  # nothing readable: the drain cannot be watched either
                    self.result.wait_ended = "deadline"
                    return
                if self.ctx.cancel.wait(min(self.p.poll_ms / 1000, self.ctx.iis.timing.poll_s)):
                    raise Cancelled
                continue
            after = seen = look
            self.result.after = after
            if after.pool_state == STOPPED:
                self.result.wait_ended = "pool_stopped"
                return
            by_http_sys = answer.server == HTTP_API or HTTP_SYS_LINE.match(answer.error_line) is not None
            if answer.status in (400, 404) and by_http_sys:  # no binding: asking again cannot help
                self.result.wait_ended = "not_routed"
                return
            served = _served(answer) and fresh and done(after)
            gone = old_gone is None or old_gone(after)
            if served and gone:
                self.result.wait_ended = "condition"
                return
            if not gone and drain_until is not None and now >= drain_until:
                self.result.wait_ended = "shutdown_time_limit"
                return
            one_more = gone and not fresh and answer.status is not None  # old gone only now: ask the new one
            if now >= self.deadline and (gone or drain_until is None or now >= drain_until) and not one_more:
                self.result.wait_ended = "deadline"
                return
            if self.ctx.cancel.wait(min(self.p.poll_ms / 1000, self.ctx.iis.timing.poll_s)):
                raise Cancelled


Operation = Callable[[OpContext, OperationParams], RestartResult]


def _operation(steps: Callable[[Run], None], default_method: str) -> Operation:
    """An operation: its steps fill in the result; a Stop ends them with the observations made so far."""

    def operation(ctx: OpContext, p: OperationParams) -> RestartResult:
        run = Run(ctx, p, p.method or default_method)
        try:
            steps(run)
            run.result.ok = True
        except Stop as stop:
            run.result.ok, run.result.error_code, run.result.error = False, stop.code, stop.message
        return run.result

    return operation


def _appdomain(run: Run) -> None:
    ctx, p = run.ctx, run.p
    t = run.prepare(domains=True)
    core = t.app.aspnet_core
    if not core and not t.pool.managed_runtime:
        raise Stop("bad_parameters", NO_ASPNET)
    method = p.method or ("touch-web-config" if core else "wmi-unload")
    if method not in APPDOMAIN_METHODS:
        raise Stop("bad_parameters", "method must be wmi-unload, touch-web-config or bin-marker")
    if core and method != "touch-web-config":
        raise Stop("bad_parameters", "ASP.NET Core (an ANCM handler serves the app) has no AppDomain: use "
                   "touch-web-config, which makes ANCM restart the app")
    if method == "wmi-unload" and not ctx.iis.wmi_provider:
        method = _fallback(p)
    run.result.method = method
    iis = ctx.iis
    before = run.result.before or Observation()
    if method in ("wmi-unload", "mwa-unload"):
        for entry in before.appdomains or []:
            iis.unload_appdomain(t.app)
            run.act("unload", entry.id)
    else:
        try:
            iis.change_content(t.app)
        except ContentDenied:
            raise content_denied(iis, t) from None
        run.act(method, t.app.physical_path + ("\\web.config" if method == "touch-web-config" else "\\bin"))
    old_workers = {(w.pid, w.started_at) for w in before.workers}
    old_children = {(c.pid, c.started_at) for c in before.children}

    def gone(o: Observation) -> bool:
        if core and t.app.hosting_model == OUT_OF_PROCESS:
            return not old_children & {(c.pid, c.started_at) for c in o.children}
        if core:
            return not old_workers & {(w.pid, w.started_at) for w in o.workers}
        return not o.appdomains

    wait(ctx, lambda: _holds(gone, run.look_after_act(t, domains=True)),
         min(run.deadline, time.monotonic() + GONE_WAIT_S), p.poll_ms)
    run.result.acted = run.look_after_act(t, domains=True)

    def back(o: Observation) -> bool:
        if core and t.app.hosting_model == OUT_OF_PROCESS:
            return bool(o.children) and gone(o)
        if core:
            return bool(o.workers) and gone(o)
        return bool(o.appdomains)

    run.warm_up_until(t, back, domains=True)


def _apppool(run: Run) -> None:
    ctx = run.ctx
    t = run.prepare()
    old = _keys(run.result.before)
    ctx.iis.recycle(t.pool)
    run.act("recycle", t.pool.name)
    run.result.acted = run.look_after_act(t)
    limit = t.pool.shutdown_time_limit_s
    run.warm_up_until(t, lambda o: bool(_keys(o) - old), drain_until=time.monotonic() + limit + drain_margin_s(limit),
                      old_gone=lambda o: not old & _keys(o))


def _worker(run: Run) -> None:
    ctx, p = run.ctx, run.p
    t = run.prepare()
    iis = ctx.iis
    before = run.result.before or Observation()
    old = _keys(before)
    if not before.workers:
        run.result.method = "warm-up"
        run.act("none", "no worker to stop: the pool starts one with the warm-up")
    _assert_kills_allowed(run, t, len(before.workers))
    for worker in before.workers:
        # By PID, and only the process observed: a PID reused meanwhile is someone else's.
        if (worker.pid, worker.started_at) in {(w.pid, w.started_at) for w in iis.workers(t.pool)}:
            iis.kill(t.pool, worker.pid)
            run.act("kill", str(worker.pid))
    wait(ctx, lambda: _holds(lambda o: not old & _keys(o), run.look_after_act(t)),
         min(run.deadline, time.monotonic() + GONE_WAIT_S), p.poll_ms)
    run.result.acted = run.look_after_act(t)
    stopped = run.result.acted is not None and run.result.acted.pool_state == STOPPED
    if stopped:  # the kills tripped rapid-fail protection
        run.result.after = run.result.acted
        run.result.wait_ended = "pool_stopped"
    else:
        run.warm_up_until(t, lambda o: bool(_keys(o) - old), old_gone=lambda o: not old & _keys(o))


op_appdomain = _operation(_appdomain, "")
op_apppool = _operation(_apppool, "recycle")
op_worker = _operation(_worker, "kill-and-warm-up")


def _fallback(p: OperationParams) -> str:
    """No WMI provider: Microsoft.Web.Administration reaches the same AppDomains, unless the policy
    says to touch web.config instead, or to refuse."""
    fallback = p.fallback or "mwa-unload"
    if fallback == "refuse":
        raise Stop("wmi_provider_missing", "the WMI provider root\\WebAdministration is not installed and the policy "
                   "refuses other ways to unload the AppDomain: Install-WindowsFeature Web-Scripting-Tools")
    return fallback


def _assert_kills_allowed(run: Run, t: Target, kills: int) -> None:
    """Assert-KillsAllowed: the pool's own failures in the System log plus the kills must stay below
    its rapid-fail limit; an unreadable log refuses (fail closed)."""
    pool, iis = t.pool, run.ctx.iis
    if kills == 0 or not pool.rapid_fail_protection:
        return
    if not iis.was_events_readable:
        raise Stop("rapid_fail_risk", "the WAS events in the System log could not be read (access_denied): without "
                   "them a kill could trip rapid-fail protection unseen, so nothing was killed; use --scope apppool")
    run.result.crashes_seen = iis.failure_events(pool)
    if run.result.crashes_seen + kills >= pool.rapid_fail_max:
        raise Stop("rapid_fail_risk", f"{run.result.crashes_seen} worker failure(s) of this pool in the System log "
                   f"(WAS events 5009-5011) within the last {pool.rapid_fail_interval_s:g} s, plus {kills} kill(s), "
                   f"would reach rapidFailProtectionMaxCrashes ({pool.rapid_fail_max}) and WAS would stop the pool: "
                   "nothing was killed; use --scope apppool, which rapid-fail protection does not count")


def _served(answer: WarmupAnswer | None) -> bool:
    """An answer that ends the asking: a 500 or 502.5 while the app starts is asked again; the offline
    page is an answer."""
    return answer is not None and answer.status is not None and (answer.status < 500 or answer.offline_page)


def _holds(condition: Callable[[Observation], bool], seen: Observation | None) -> bool:
    return seen is not None and condition(seen)


def _keys(o: Observation | None) -> set[tuple[int, str]]:
    return {(w.pid, w.started_at) for w in o.workers} if o is not None else set()
