"""Builds the views (bot.app.views) from the core's own types: plans, decisions, store records,
status results. The one place that knows how a person is shown and what to do next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.app.errors import ExecutionError
from bot.app.interrupted import interrupted_next_step, known_hosts
from bot.app.records import AuditEvent, Request, RequestState
from bot.app.results import StatusResult
from bot.app.views import (
    ApprovalView,
    AuditEventView,
    DecisionView,
    HostResultView,
    HostStatusView,
    PersonView,
    PlanView,
    RefusalView,
    RequestView,
    SiteListView,
    SiteView,
    StatusView,
)
from policies.decision import Decision, NeedsApproval, Refuse
from policies.identity import person_of
from policies.inventory import Inventory
from policies.planner import Plan
from policies.policy import Policy

SERVER_WIDE_SUGGESTION = (
    "Restart only what needs it: `/recycle SITE` restarts one app (appdomain); "
    "`--reason gac|memory|locked-file` recycles its pool; `--reason hung` kills only its "
    "pool's worker, with a second person's approval."
)


def person(principal_id: str, policy: Policy) -> PersonView:
    name = person_of(principal_id, policy)
    if name is None:  # a group id shows its [groups] name when the policy maps one
        name = next((g for g, members in policy.groups.items() if principal_id in members), None) \
            if principal_id.startswith("S") else None
    display = f"{name} ({principal_id})" if name and name != principal_id else principal_id
    return PersonView(id=principal_id, name=name, display=display)


def decision_dict(decision: Decision) -> dict[str, Any]:
    """What a request records of its decision (plain JSON, read back by decision_view)."""
    out: dict[str, Any] = {"outcome": decision.outcome, "rule": decision.rule, "reasons": list(decision.reasons)}
    if isinstance(decision, NeedsApproval):
        out.update(approvers=list(decision.approvers), approvals=decision.approvals,
                   expires_in_s=decision.expires_in_s)
    if isinstance(decision, Refuse):
        out.update(alternative=decision.alternative.value if decision.alternative else None, source=decision.source)
    return out


def decision_view(decision: Decision | Mapping[str, Any], policy: Policy) -> DecisionView:
    data = decision_dict(decision) if not isinstance(decision, Mapping) else dict(decision)
    return DecisionView(
        outcome=data.get("outcome", "allow"),
        rule=data.get("rule"),
        reasons=list(data.get("reasons", ())),
        approvers=list(data.get("approvers", ())),
        approver_people=[person(a, policy) for a in data.get("approvers", ())],
        approvals=int(data.get("approvals", 0)),
        expires_in_s=data.get("expires_in_s"),
        alternative=data.get("alternative"),
        source=data.get("source"),
    )


def plan_view(plan: Plan, decision: Decision | Mapping[str, Any], policy: Policy) -> PlanView:
    return PlanView(
        site=plan.site,
        environment=plan.environment,
        rung=plan.rung.value,
        needed=plan.needed.value if plan.needed else None,
        method=plan.method,
        hosts=list(plan.hosts),
        waves=[list(wave) for wave in plan.host_waves],
        keep_going=plan.keep_going,
        pool=plan.pool,
        blast_radius=list(plan.blast_radius),
        wider_than_needed=plan.wider_than_needed,
        why=list(plan.why),
        warnings=list(plan.warnings),
        seen_on_hosts=list(plan.seen_on_hosts),
        channel=plan.channel,
        decision=decision_view(decision, policy),
    )


def request_view(req: Request, policy: Policy, message: str = "", *, ran_now: bool = False) -> RequestView:
    result = dict(req.result or {})
    plan = Plan.from_dict(req.plan) if req.plan else None
    known = known_hosts(req.hosts, req.result, plan) if req.state == RequestState.INTERRUPTED else None
    if known is not None:
        hosts = known.host_views(req.rung.value, plan.method if plan else "")
    else:
        hosts = [HostResultView.model_validate(h) for h in result.get("hosts", ())] + [
            HostResultView(host=name, rung=req.rung.value, method=plan.method if plan else "", outcome="skipped",
                           error=f"not started: the rollout stopped at {result.get('stopped_at')}")
            for name in result.get("untouched", ())
        ]
    return RequestView(
        id=req.id,
        state=req.state.value,
        site=req.site,
        rung=req.rung.value,
        targets=list(req.hosts),
        pool=req.pool,
        requester=req.requester,
        requester_person=req.requester_person,
        requester_display=person(req.requester, policy).display,
        origin=req.origin,
        reason=req.reason,
        created_at=req.created_at,
        updated_at=req.updated_at,
        expires_at=req.expires_at,
        approvals_needed=req.approvals_needed,
        approvers=list(req.approvers),
        approvals=[ApprovalView(approver=a.approver, display=person(a.approver, policy).display, at=a.at)
                   for a in req.approvals],
        deny_reason=req.deny_reason,
        plan=plan_view(plan, req.decision, policy) if plan is not None else None,
        decision=decision_view(req.decision, policy) if req.decision else None,
        hosts=hosts,
        untouched=known.untouched if known else list(result.get("untouched", ())),
        in_flight=known.in_flight if known else [],
        resume=known.resume if known else result.get("resume"),
        retry=known.retry if known else result.get("retry"),
        error=result.get("error"),
        message=message,
        ran_now=ran_now,
        next_step=interrupted_next_step(req.site, known) if known else next_step(req),
    )


def next_step(req: Request) -> str | None:
    """What a person in chat can do now, in chat commands (never a shell command)."""
    if req.state == RequestState.AWAITING_APPROVAL:
        return f"an approver runs `/recycle approve {req.id}` (or clicks Approve); `/recycle deny {req.id}` denies it"
    if req.state == RequestState.APPROVED:
        return f"approved but not started: `/recycle approve {req.id}` runs it (once)"
    resume = (req.result or {}).get("resume")
    if resume and req.state in (RequestState.FAILED, RequestState.PARTIALLY_FAILED):
        return f"fix the failed host, then resume the rollout with `{resume}` (the hosts not yet restarted)"
    if req.state in (RequestState.FAILED, RequestState.PARTIALLY_FAILED):
        return f"see each host's error; `/recycle status {req.site}` shows where the hosts stand now"
    return None  # interrupted: bot.app.interrupted says it, host by host


def refusal_view(what: str, decision: Decision, policy: Policy) -> RefusalView:
    return RefusalView(what=what, decision=decision_view(decision, policy), suggestion=SERVER_WIDE_SUGGESTION)


def status_view(site: str, results: Sequence[tuple[str, StatusResult | ExecutionError]]) -> StatusView:
    hosts = []
    for name, result in results:
        if isinstance(result, ExecutionError):
            hosts.append(HostStatusView(host=name, ok=False, error=result.detail, error_code=result.code))
        else:
            hosts.append(HostStatusView.model_validate({"host": name, **result.model_dump()}))
    return StatusView(site=site, hosts=hosts)


def site_list_view(inventory: Inventory) -> SiteListView:
    return SiteListView(sites=[
        SiteView(name=name, environment=site.environment, iis_site=site.iis_site, app=site.app, pool=site.pool,
                 hosts=list(site.hosts), channel=getattr(site, "channel", None))
        for name, site in sorted(inventory.sites.items())
    ])


def audit_event_view(event: AuditEvent, policy: Policy) -> AuditEventView:
    return AuditEventView(
        id=event.id, request_id=event.request_id, at=event.at, actor=event.actor,
        actor_display=person(event.actor, policy).display,
        action=event.action.value, state_from=event.state_from.value if event.state_from else None,
        state_to=event.state_to.value, site=event.site, rung=event.rung.value, hosts=list(event.hosts),
        details=dict(event.details),
    )
