"""`aspreset doctor HOST --exercise SITE`: a team's first real restarts, on a harmless app.

Runs each rung once (none, appdomain, apppool, worker) on one host for a site the policy names in
`canary_sites`, and reports what each observation showed and how bot.app.verification judged it,
so the first contact with a real server is on an app the team chose to be restarted. Any other
site is refused; a rung that would reach other applications (a pool the canary shares, as IIS
reports it) is skipped. Each rung goes through the request flow like any restart: it is planned,
decided by the policy, recorded in the audit trail (origin `doctor-exercise`) and needs the approvals
its rung would, unless the policy names the site in `exercise_waives_approval`. A rung that waits for
approval ends the exercise there: approve it, then exercise again for the rungs after it."""

from __future__ import annotations

from bot.app.errors import ConfigError, Refused
from bot.app.lifecycle import EXERCISE_ORIGIN, Requests
from bot.app.readiness.views import ExerciseView, RungRunView
from bot.app.views import RequestView
from commands.model import RestartRequest
from commands.rungs import EXECUTABLE_RUNGS, Rung
from policies.identity import Principal

NOTE = "doctor --exercise"


def run_exercise(requests: Requests, principal: Principal, host: str, site: str) -> ExerciseView:
    policy, inventory = requests.policy, requests.inventory
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
    waiting: str | None = None
    for rung in EXECUTABLE_RUNGS:
        asked = RestartRequest(site=site, scope=rung, hosts=(host,), note=NOTE)
        planned = requests.plan(asked, principal)
        skipped = _why_skipped(rung, planned.blast_radius, site, entry.pool, inventory.hosts[host].iis5_isolation,
                               waiting)
        if skipped:
            runs.append(RungRunView(rung=rung.value, method=planned.method, outcome="skipped", detail=skipped))
            continue
        view = requests.request(asked, principal, EXERCISE_ORIGIN)
        runs.append(_rung_run(rung, view))
        if view.state == "awaiting_approval":
            waiting = rung.value
    return ExerciseView(ok=all(r.outcome in ("succeeded", "skipped") for r in runs) and waiting is None,
                        waiting=waiting is not None, host=host, site=site, rungs=runs)


def _why_skipped(rung: Rung, radius: list[str], site: str, pool: str, iis5: bool, waiting: str | None) -> str:
    if waiting is not None:
        return f"not run: the {waiting} rung waits for approval first"
    if rung >= Rung.APPPOOL and len(radius) > 1:
        others = ", ".join(s for s in radius if s != site)
        return f"pool {pool} is shared with {others}: not harmless"
    if rung >= Rung.APPPOOL and iis5:
        return "IIS 5 isolation mode: this rung is the server rung there"
    return ""


def _rung_run(rung: Rung, view: RequestView) -> RungRunView:
    """One rung's request as the exercise reports it: what the policy said, or what the host showed."""
    method = view.plan.method if view.plan else ""
    if view.state == "refused":
        reasons = "; ".join(view.decision.reasons) if view.decision else "refused by the policy"
        return RungRunView(rung=rung.value, method=method, outcome="refused", detail=reasons, request_id=view.id)
    if view.state == "awaiting_approval":
        who = ", ".join(view.approvers) or "an approver"
        return RungRunView(rung=rung.value, method=method, outcome="awaiting_approval", request_id=view.id,
                           detail=f"request {view.id} waits for approval by {who} (aspreset approve {view.id}); "
                                  "then run --exercise again for the rungs after it")
    if not view.hosts:
        return RungRunView(rung=rung.value, method=method, outcome="failed", request_id=view.id,
                           detail=view.error or f"request {view.id} ended {view.state}", error_code=view.state)
    host = view.hosts[0]
    extra = host.model_extra or {}
    warm = ""
    if host.warmup_status is not None or extra.get("warmup_url"):
        warm = (f"{extra.get('warmup_url')} (Host: {extra.get('warmup_host') or '?'}) -> HTTP "
                f"{host.warmup_status} from {extra.get('warmup_server') or '?'} in {host.warmup_ms} ms")
    return RungRunView(rung=rung.value, method=host.method, outcome=host.outcome, request_id=view.id,
                       detail=host.error or f"PIDs {host.pids_before} -> {host.pids_after}",
                       evidence=list(extra.get("evidence") or []), notes=list(extra.get("notes") or []),
                       pids_before=host.pids_before, pids_after=host.pids_after, warmup=warm,
                       error_code=host.error_code)
