"""`aspreset doctor HOST --exercise SITE`: a team's first real restarts, on a harmless app.

Runs each rung once (none, appdomain, apppool, worker) on one host for a site the policy names in
`canary_sites`, and reports what each observation showed and how bot.app.verification judged it,
so the first contact with a real server is on an app the team chose to be restarted. Any other
site is refused; a rung that would reach other applications (a pool the canary shares) is skipped.
Naming the site in `canary_sites` is the team's consent for these restarts, the worker kill
included: nothing here goes through the request and approval flow or is recorded in the store."""

from __future__ import annotations

from bot.app.errors import ConfigError, ExecutionError, Refused
from bot.app.execution import operation_params
from bot.app.ports import Executor
from bot.app.readiness import run_one
from bot.app.readiness.views import ExerciseView, RungRunView
from bot.app.verification import host_outcome
from commands.model import RestartRequest
from commands.rungs import EXECUTABLE_RUNGS, Rung
from policies.inventory import Inventory
from policies.planner import plan
from policies.policy import Policy


def run_exercise(inventory: Inventory, policy: Policy, host: str, site: str, executor: Executor,
                 timeout_s: float = 120.0) -> ExerciseView:
    if site not in policy.canary_sites:
        named = ", ".join(policy.canary_sites) or "none"
        raise Refused(f"{site} is not in the policy's canary_sites ({named}): --exercise restarts only a site the "
                      f"team named as safe to restart; add it to canary_sites in {policy.source} first")
    entry = inventory.sites.get(site)
    if entry is None:
        raise ConfigError(f"canary site {site!r} is not in the inventory")
    if host not in entry.hosts:
        raise ConfigError(f"host {host!r} does not serve {site}; its hosts: {', '.join(entry.hosts)}")
    runs: list[RungRunView] = []
    target = inventory.hosts[host]
    for rung in EXECUTABLE_RUNGS:
        the_plan = plan(RestartRequest(site=site, scope=rung, hosts=(host,)), inventory, policy)
        if rung >= Rung.APPPOOL and len(the_plan.blast_radius) > 1:
            others = ", ".join(s for s in the_plan.blast_radius if s != site)
            runs.append(RungRunView(rung=rung.value, method=the_plan.method, outcome="skipped",
                                    detail=f"pool {entry.pool} is shared with {others}: not harmless"))
            continue
        if rung >= Rung.APPPOOL and target.iis5_isolation:
            runs.append(RungRunView(rung=rung.value, method=the_plan.method, outcome="skipped",
                                    detail="IIS 5 isolation mode: this rung is the server rung there"))
            continue
        params = operation_params(the_plan, target, "exercise", timeout_s)
        try:
            result = run_one(executor, host, target, params)
        except ExecutionError as error:
            runs.append(RungRunView(rung=rung.value, method=the_plan.method, outcome="failed", detail=error.detail,
                                    error_code=error.code))
            continue
        outcome = host_outcome(the_plan, host, result, 0)
        answers = getattr(result, "warmups", [])
        warm = ""
        if answers:
            last = answers[-1]
            warm = (f"{last.url} (Host: {last.host_header}) -> HTTP {last.status} from {last.server or '?'} "
                    f"in {last.ms} ms")
        detail = outcome.error or f"PIDs {outcome.pids_before} -> {outcome.pids_after}"
        runs.append(RungRunView(rung=rung.value, method=outcome.method, outcome=outcome.outcome, detail=detail,
                                evidence=outcome.evidence, notes=outcome.notes, pids_before=outcome.pids_before,
                                pids_after=outcome.pids_after, warmup=warm, error_code=outcome.error_code))
    return ExerciseView(ok=all(r.outcome != "failed" for r in runs), host=host, site=site, rungs=runs)
