"""`aspreset doctor HOST --exercise SITE`: a team's first real restarts, on a harmless app.

Runs each rung once (none, appdomain, apppool, worker) on one host for a site the policy names in
`canary_sites`, and reports what each observation showed and how bot.app.verification judged it,
so the first contact with a real server is on an app the team chose to be restarted. Any other
site is refused. A rung that would reach other applications (a pool the canary shares) is skipped.
Naming the site in `canary_sites` is the team's consent for these restarts, the worker kill included;
nothing here goes through the request and approval flow, and nothing is recorded in the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.app.errors import ConfigError, ExecutionError, Refused
from bot.app.execution import operation_params
from bot.app.verification import EVIDENCE, host_outcome
from bot.winrm.executor import WinRMExecutor
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.inventory import Inventory
from policies.planner import plan
from policies.policy import Policy

RUNGS = (Rung.NONE, Rung.APPDOMAIN, Rung.APPPOOL, Rung.WORKER)


@dataclass
class RungReport:
    rung: str
    method: str
    outcome: str  # succeeded | failed | skipped
    detail: str
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pids_before: list[int] = field(default_factory=list)
    pids_after: list[int] = field(default_factory=list)
    warmup: str = ""
    error_code: str | None = None


@dataclass
class ExerciseReport:
    host: str
    site: str
    rungs: list[RungReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.outcome != "failed" for r in self.rungs)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "host": self.host, "site": self.site, "rungs": [asdict(r) for r in self.rungs]}

    def text(self) -> str:
        lines = [f"Exercising {self.site} on {self.host}, each rung once:"]
        for r in self.rungs:
            lines.append(f"  {r.rung:<9} {r.outcome.upper():<9} {r.method}: {r.detail}")
            lines += [f"            seen: {EVIDENCE.get(e, e)}" for e in r.evidence]
            lines += [f"            note: {n}" for n in r.notes]
            if r.warmup:
                lines.append(f"            warm-up: {r.warmup}")
        lines.append("every rung behaved as verified" if self.ok else "some rungs failed: see docs/setup.md")
        return "\n".join(lines)


def run_exercise(inventory: Inventory, policy: Policy, host: str, site: str, executor: WinRMExecutor,
                 timeout_s: float = 120.0) -> ExerciseReport:
    if site not in policy.canary_sites:
        named = ", ".join(policy.canary_sites) or "none"
        raise Refused(f"{site} is not in the policy's canary_sites ({named}): --exercise restarts only a site the "
                      f"team named as safe to restart; add it to canary_sites in {policy.source} first")
    entry = inventory.sites.get(site)
    if entry is None:
        raise ConfigError(f"canary site {site!r} is not in the inventory")
    if host not in entry.hosts:
        raise ConfigError(f"host {host!r} does not serve {site}; its hosts: {', '.join(entry.hosts)}")
    report = ExerciseReport(host, site)
    target = inventory.hosts[host]
    for rung in RUNGS:
        the_plan = plan(RestartRequest(site=site, scope=rung, host=host), inventory, policy)
        if rung >= Rung.APPPOOL and len(the_plan.blast_radius) > 1:
            others = ", ".join(s for s in the_plan.blast_radius if s != site)
            report.rungs.append(RungReport(rung.value, the_plan.method, "skipped",
                                           f"pool {entry.pool} is shared with {others}: not harmless"))
            continue
        if rung >= Rung.APPPOOL and target.iis5_isolation:
            report.rungs.append(RungReport(rung.value, the_plan.method, "skipped",
                                           "IIS 5 isolation mode: this rung is the server rung there"))
            continue
        params = operation_params(the_plan, target, "exercise", timeout_s)
        try:
            result = executor.run(host, target, params)
        except ExecutionError as error:
            report.rungs.append(RungReport(rung.value, the_plan.method, "failed", error.detail,
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
        report.rungs.append(RungReport(rung.value, outcome.method, outcome.outcome, detail, outcome.evidence,
                                       outcome.notes, outcome.pids_before, outcome.pids_after, warm,
                                       outcome.error_code))
    return report
