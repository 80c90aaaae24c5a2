"""The text an assistant reads, a pure function of the core's view (the same view is the structured
content). The request id is always in it, and a waiting request always says that a person must
approve it and where; refusals name the narrower restart in the tool's own words (`scope=...`)."""

from __future__ import annotations

from typing import assert_never

from bot.app.records import RequestState
from bot.app.text import audit_text, incidents_text
from bot.app.views import (
    AuditView,
    DecisionView,
    ErrorView,
    HelpView,
    HostResultView,
    IncidentListView,
    PlanView,
    RefusalView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
    View,
)

FAILED_STATES = frozenset({RequestState.FAILED, RequestState.PARTIALLY_FAILED, RequestState.INTERRUPTED})
FOLLOWED_STATES = FAILED_STATES | {RequestState.RUNNING, RequestState.APPROVED}


def text(view: View) -> str:
    match view:
        case PlanView():
            return plan(view)
        case RequestView():
            return request(view)
        case StatusView():
            return status(view)
        case SiteListView():
            return sites(view)
        case RefusalView():
            return f"refused: {view.what} is never run. {decision(view.decision)}\n{view.suggestion}"
        case RequestListView():
            return requests(view)
        case AuditView():
            return audit_text(view)
        case IncidentListView():
            return incidents_text(view)
        case HelpView():
            return view.text
        case ErrorView():
            return f"{view.message} [{view.code}]"
        case _:
            assert_never(view)


def sites(view: SiteListView) -> str:
    lines = [
        f"{s.name} ({s.environment}): IIS site {s.iis_site}{s.app}, pool {s.pool}, hosts {', '.join(s.hosts)}"
        for s in view.sites
    ]
    return "\n".join(lines) or "No sites in the inventory."


def status(view: StatusView) -> str:
    lines = [f"Status of {view.site}:"]
    for host in view.hosts:
        if not host.ok:
            lines.append(f"  {host.host}: {host.error} [{host.error_code}]")
            continue
        pids = [w.get("pid") for w in host.workers]
        line = (f"  {host.host}: pool {host.pool_state}, worker PIDs {pids or 'none'}, "
                f"AppDomain {host.appdomain_id}")
        lines.append(line + (", app_offline.htm present" if host.app_offline else ""))
    return "\n".join(lines)


def plan(view: PlanView) -> str:
    lines = [f"Plan for {view.site} ({view.environment}): {view.rung} via {view.method} on {', '.join(view.hosts)}"]
    lines += [f"  why: {why}" for why in view.why]
    if view.blast_radius and view.blast_radius != [view.site]:
        lines.append(f"  also restarts: {', '.join(view.blast_radius)} (they share pool {view.pool})")
    if view.wider_than_needed:
        lines.append(f"  note: {view.wider_than_needed}")
    lines += [f"  warning: {w}" for w in view.warnings]
    lines += [f"  seen on the host: {line}" for line in view.seen_on_hosts]
    lines.append("  policy: " + decision(view.decision))
    if view.decision.outcome == "needs_approval":
        lines.append("  A request would wait until a person approves it; you cannot approve it.")
    return "\n".join(lines)


def decision(view: DecisionView) -> str:
    reasons = "; ".join(view.reasons)
    if view.outcome == "refuse":
        out = f"refused ({view.rule}): {reasons}."
        if view.alternative:
            out += f" The narrower restart that does the job: scope={view.alternative}."
        return out
    if view.outcome == "needs_approval":
        who = ", ".join(p.display for p in view.approver_people) or "an approver"
        return f"needs {view.approvals} approval(s) by a person ({who}): {reasons}."
    return f"allowed: {reasons}."


def request(view: RequestView) -> str:
    what = f"{view.rung} restart of {view.site} on {', '.join(view.targets)}"
    if view.state == "awaiting_approval":
        expires = f" before {view.expires_at:%H:%M} UTC" if view.expires_at else ""
        lines = [f"waiting for approval: request {view.id} ({what}); {view.next_step or 'a person must approve it'}"
                 f"{expires}. You cannot approve it, and no confirmation here counts; follow it with get_request."]
    elif view.state == "refused":
        lines = [f"refused: request {view.id} ({what}) was not run."]
    else:
        lines = [f"request {view.id}: {view.state} ({what})"]
    if view.message:
        lines.append(f"  {view.message}")
    if view.decision is not None and view.state in ("refused", "awaiting_approval"):
        lines.append("  policy: " + decision(view.decision))
    if view.approvals:
        lines.append("  approved by " + ", ".join(a.display for a in view.approvals))
    if view.deny_reason and view.state != "refused":  # a refusal's reason is the decision's
        lines.append(f"  denied: {view.deny_reason}")
    if view.error:
        lines.append(f"  error: {view.error}")
    lines += [host(h) for h in view.hosts]
    if view.state in FOLLOWED_STATES and view.next_step:
        lines.append(f"  next: {view.next_step}")
    return "\n".join(lines)


def requests(view: RequestListView) -> str:
    lines = [f"{r.id}  {r.state}  {r.site}  {r.rung}  asked by {r.requester_display}" for r in view.root]
    return "\n".join(lines) or "No requests."


def host(view: HostResultView) -> str:
    if view.outcome == "skipped":
        return f"  {view.host}: skipped (not restarted)"
    if view.outcome == "unknown":
        return f"  {view.host}: state unknown ({view.error})"
    if view.outcome != "succeeded":
        return f"  {view.host}: FAILED {view.error} [{view.error_code}]"
    out = f"  {view.host}: ok, {view.method}, worker PIDs {view.pids_before} -> {view.pids_after}"
    if view.appdomain_before or view.appdomain_after:
        out += f", AppDomain {view.appdomain_before} -> {view.appdomain_after}"
    if view.warmup_status:
        out += f", warm-up HTTP {view.warmup_status} in {view.warmup_ms} ms"
    return out
