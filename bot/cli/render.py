"""The core's views as text, for the CLI and the local chat console: pure functions of one view.
(`--json` is the view's own dump; see docs/json.md.)"""

from __future__ import annotations

from typing import assert_never

from bot.app.readiness.views import DoctorView, ExerciseView
from bot.app.text import audit_text, incidents_text
from bot.app.verification import EVIDENCE
from bot.app.views import (
    AuditView,
    DecisionView,
    ErrorView,
    HelpView,
    HostResultView,
    HostStatusView,
    IncidentListView,
    PlanView,
    RefusalView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
    View,
)

SHELL, CHAT = "aspreset ", "/recycle "  # how a command the text suggests is typed, per medium


def text(view: View, prefix: str = SHELL) -> str:
    """`prefix` starts the commands the text suggests: `aspreset ` in a shell, `/recycle ` in chat."""
    match view:
        case PlanView():
            return plan_text(view)
        case RequestView():
            return request_text(view, prefix)
        case StatusView():
            return status_text(view)
        case SiteListView():
            return sites_text(view)
        case RefusalView():
            return f"{decision_text(view.decision)}\n{view.suggestion}"
        case HelpView():
            return view.text
        case ErrorView():
            return f"Sorry: {view.message}"
        case RequestListView():
            return requests_text(view, prefix)
        case AuditView():
            return audit_text(view)
        case IncidentListView():
            return incidents_text(view)
        case _:
            assert_never(view)


def typed(prefix: str, command: str) -> str:
    """A command as the person types it: `aspreset recycle shop-web ...` in a shell, `/recycle
    shop-web ...` in chat (where `/recycle` is the recycle command itself)."""
    if prefix == CHAT and command.startswith("recycle "):
        return "/" + command
    return prefix + command


def plan_text(plan: PlanView) -> str:
    lines = [f"Plan for {plan.site} ({plan.environment}): {plan.rung} via {plan.method} on {', '.join(plan.hosts)}"]
    lines += [f"  why: {line}" for line in plan.why]
    if len(plan.waves) > 1:
        lines.append(f"  {waves_text(plan.waves, plan.keep_going)}")
    if plan.blast_radius != [plan.site]:
        lines.append(f"  blast radius: {', '.join(plan.blast_radius)} (pool {plan.pool})")
    if plan.wider_than_needed:
        lines.append(f"  note: {plan.wider_than_needed}")
    lines += [f"  warning: {line}" for line in plan.warnings]
    lines += [f"  seen: {line}" for line in plan.seen_on_hosts]
    lines.append(decision_text(plan.decision))
    return "\n".join(lines)


def waves_text(waves: list[list[str]], keep_going: bool) -> str:
    """`waves: 3 (web01, web02 | web03, web04 | web05), each warmed up and verified before the next; ...`."""
    shown = " | ".join(", ".join(wave) for wave in waves[:6]) + (" | ..." if len(waves) > 6 else "")
    stop = "a failure does not stop the rest" if keep_going else "the first failure stops the rest"
    return f"waves: {len(waves)} ({shown}), each warmed up and verified before the next; {stop}"


def rollout_text(req: RequestView, prefix: str = SHELL) -> list[str]:
    """Where a rollout stopped, in a line or two: `2 of 5 ok; web03 failed; 2 untouched (web04, web05)`."""
    if not req.untouched and all(h.outcome == "succeeded" for h in req.hosts):
        return []
    ran = [h for h in req.hosts if h.outcome not in ("skipped", "unknown")]
    ok = sum(1 for h in ran if h.outcome == "succeeded")
    parts = [f"{ok} of {len(ran) + len(req.in_flight) + len(req.untouched)} ok"]
    failed = [h.host for h in ran if h.outcome != "succeeded"]
    if failed:
        parts.append(_some(failed) + " failed")
    if req.in_flight:
        parts.append(f"{_some(req.in_flight)} state unknown (restarting when the run was cut off)")
    if req.untouched:
        parts.append(f"{len(req.untouched)} untouched ({_some(req.untouched)})")
    lines = ["; ".join(parts)]
    if req.resume:
        lines.append(f"resume with: {typed(prefix, req.resume)}")
    if req.retry and req.state == "interrupted":
        lines.append(f"finish the hosts not known to be done with: {typed(prefix, req.retry)}")
    elif req.retry:
        lines.append(f"retry the failed hosts with: {typed(prefix, req.retry)}")
    return lines


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def decision_text(decision: DecisionView) -> str:
    reasons = "; ".join(decision.reasons)
    if decision.outcome == "refuse":
        out = f"Refused ({decision.rule}): {reasons}."
        if decision.alternative is not None:
            out += f" The narrowest restart that does the job: --scope {decision.alternative}."
        return out
    if decision.outcome == "needs_approval":
        minutes = (decision.expires_in_s or 0) // 60
        who = ", ".join(p.display for p in decision.approver_people)
        return f"Needs {decision.approvals} approval(s) from {who} (not the requester) within {minutes} min: {reasons}."
    return f"Allowed: {reasons}."


def request_text(req: RequestView, prefix: str = SHELL) -> str:
    lines: list[str] = []
    if req.plan is not None and not req.approvals and not req.message:  # the reply to the ask itself
        lines.append(plan_text(req.plan))
    head = f"Request {req.id} ({req.site}, {req.rung}, asked by {req.requester_display}): {req.state}"
    if req.waiting and req.expires_at:
        head += f", approve with `{typed(prefix, 'approve ' + req.id)}` before {req.expires_at:%H:%M} UTC"
    lines.append(head)
    if req.message:
        lines.append(f"  {req.message}")
    if req.approvals:
        lines.append(f"  approved by {', '.join(a.display for a in req.approvals)}")
    if req.deny_reason and req.state != "refused":  # a refusal's reasons are in its plan's decision
        lines.append(f"  reason: {req.deny_reason}")
    if req.error:
        lines.append(f"  error: {req.error}")
    lines += [host_text(h) for h in req.hosts if h.outcome != "skipped"]
    lines += [f"  {line}" for line in rollout_text(req, prefix)]
    return "\n".join(lines)


def host_text(host: HostResultView) -> str:
    if host.outcome == "unknown":
        return f"  {host.host}: STATE UNKNOWN: {host.error}"
    if host.outcome != "succeeded":
        return f"  {host.host}: {host.outcome.upper()} {host.error or ''} [{host.error_code}]".rstrip()
    pids = f"PIDs {_processes(host, 'before')} -> {_processes(host, 'after')}"
    domain = ""
    if host.appdomain_before or host.appdomain_after:
        domain = f", AppDomain {host.appdomain_before} -> {host.appdomain_after}"
    warm = f", warm-up HTTP {host.warmup_status} in {host.warmup_ms} ms" if host.warmup_status else ""
    evidence = getattr(host, "evidence", None)
    seen = f"; evidence: {', '.join(evidence)}" if evidence else ""
    return f"  {host.host}: ok, {host.method}: {pids}{domain}{warm}, {host.duration_ms} ms{seen}"


def _processes(host: HostResultView, when: str) -> str:
    """PIDs, each with its start time when the verification reported them (Windows reuses PIDs)."""
    workers = getattr(host, f"workers_{when}", None)
    if not workers:
        return _pids(host.pids_before if when == "before" else host.pids_after)
    return "[" + ", ".join(f"{w['pid']} started {str(w['started_at'])[11:23]}" for w in workers) + "]"


def status_text(status: StatusView) -> str:
    return "\n".join([f"Status of {status.site}:", *(host_status_text(h) for h in status.hosts)])


def host_status_text(host: HostStatusView) -> str:
    if not host.ok:
        return f"  {host.host}: {host.error} [{host.error_code}]"
    pids = _pids([int(w["pid"]) for w in host.workers])
    offline = ", app_offline.htm PRESENT" if host.app_offline else ""
    return (f"  {host.host}: pool {host.pool_state} ({host.start_mode}), {host.worker_process_name} {pids}, "
            f"AppDomain {host.appdomain_id}, IIS {host.iis_major_version}{offline}")


def sites_text(sites: SiteListView) -> str:
    lines = [f"{s.name} ({s.environment}): {s.iis_site}{s.app} pool {s.pool} on {', '.join(s.hosts)}"
             for s in sites.sites]
    return "\n".join(lines) or "No sites in the inventory."


def requests_text(requests: RequestListView, prefix: str = SHELL) -> str:
    lines = []
    for r in requests.root:
        lines.append(f"{r.id}  {r.state:<17} {r.site:<16} {r.rung:<9} {r.requester_display}  "
                     f"{r.created_at:%Y-%m-%d %H:%M}Z")
        lines += [f"    {line}" for line in rollout_text(r, prefix)]
    return "\n".join(lines) or "no requests"


def _pids(pids: list[int]) -> str:
    return "[" + ", ".join(str(p) for p in pids) + "]" if pids else "none"


def doctor_text(report: DoctorView) -> str:
    lines = []
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"{mark} {check.host}: {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"       fix: {check.fix}")
    lines.append("all checks passed" if report.ok else "some checks failed: apply the fixes and run doctor again")
    return "\n".join(lines)


def exercise_text(report: ExerciseView) -> str:
    lines = [f"Exercising {report.site} on {report.host}, each rung once:"]
    for r in report.rungs:
        request = f" [{r.request_id}]" if r.request_id else ""
        lines.append(f"  {r.rung:<9} {r.outcome.upper():<9} {r.method}{request}: {r.detail}")
        lines += [f"            seen: {EVIDENCE.get(e, e)}" for e in r.evidence]
        lines += [f"            note: {n}" for n in r.notes]
        if r.warmup:
            lines.append(f"            warm-up: {r.warmup}")
    if report.waiting:
        lines.append("a rung waits for approval: approve its request, then exercise again for the rest")
    else:
        lines.append("every rung behaved as verified" if report.ok else "some rungs failed: see docs/setup.md")
    return "\n".join(lines)
