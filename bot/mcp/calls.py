"""The tools' bodies: arguments -> a core command -> the core's answer -> a Reply. Synchronous;
the server runs them in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app.records import Request, RequestState
from bot.app.results import StatusResult
from bot.app.service import Outcome, Service
from bot.cli.render import outcome_json, plan_json, status_json
from bot.mcp import text
from bot.mcp.replies import Reply
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.decision import Refuse
from policies.identity import Principal

WhereApproved = Callable[[Service, str, str], str]


def approve_with_cli(service: Service, site: str, request_id: str) -> str:
    return f"a person approves it with `aspreset approve {request_id}`"


def approve_in_slack(service: Service, site: str, request_id: str) -> str:
    entry = service.inventory.sites.get(site)
    if entry is None or not entry.channel:
        return approve_with_cli(service, site, request_id)
    return f"the approval request was posted in the site's Slack channel <#{entry.channel}>; a person approves it there"


def restart_request(
    site: str, changed: list[str] | None, reason: str | None, scope: str | None, plan_only: bool
) -> RestartRequest:
    known = {r.value: r for r in Reason}
    chosen = known.get(reason.strip().lower()) if reason else None
    return RestartRequest(
        site=site,
        scope=Rung(scope) if scope else None,
        reason=chosen,
        note=reason if reason and chosen is None else None,
        changed=tuple(changed or ()),
        plan_only=plan_only,
    )


def list_sites(service: Service, principal: Principal) -> Reply:
    sites = [
        {"site": name, "environment": s.environment, "iis_site": s.iis_site, "app": s.app, "pool": s.pool,
         "hosts": list(s.hosts)}
        for name, s in sorted(service.inventory.sites.items())
    ]
    data = {"kind": "sites", "sites": sites}
    return Reply(text.sites(data), data)


def site_status(service: Service, principal: Principal, site: str) -> Reply:
    results = service.status(site)
    data = {"kind": "status", **status_json(site, results)}
    failed = any(not isinstance(r, StatusResult) or not r.ok for _, r in results)
    return Reply(text.status(data), data, error=failed)


def plan_restart(
    service: Service, principal: Principal, site: str, changed: list[str] | None, reason: str | None,
    scope: str | None,
) -> Reply:
    planned = service.plan(restart_request(site, changed, reason, scope, plan_only=True), principal)
    data = {"kind": "plan", **plan_json(planned)}
    return Reply(text.plan(data), data)


def request_restart(
    service: Service, principal: Principal, site: str, reason: str, changed: list[str] | None, scope: str | None,
    where: WhereApproved,
) -> Reply:
    command = restart_request(site, changed, reason, scope, plan_only=False)
    outcome = service.request(command, principal, origin=principal.id)
    data = _request_data(outcome)
    if outcome.state == "awaiting_approval" and outcome.request is not None:
        data["next_step"] = where(service, outcome.request.site, outcome.request.id)
    refused = outcome.planned is not None and isinstance(outcome.planned.decision, Refuse)
    failed = outcome.state not in ("succeeded", "awaiting_approval")
    return Reply(text.request(data), data, error=refused or failed)


def get_request(service: Service, principal: Principal, request_id: str, where: WhereApproved) -> Reply:
    service.store.expire_due(service.clock())
    req = service.store.get(request_id)
    data = _record_data(req)
    if req.state == RequestState.AWAITING_APPROVAL:
        data["next_step"] = where(service, req.site, req.id)
    return Reply(text.request(data), data)


def list_requests(service: Service, principal: Principal, site: str | None, state: str | None) -> Reply:
    service.store.expire_due(service.clock())
    rows = service.store.list(state=RequestState(state) if state else None, site=site, limit=50)
    data = {"kind": "requests", "requests": [_record_data(r) for r in rows]}
    return Reply(text.requests(data), data)


def _request_data(outcome: Outcome) -> dict[str, Any]:
    out = outcome_json(outcome)
    data: dict[str, Any] = {"kind": "request", "id": out.pop("request_id", None), **out}
    return data


def _record_data(req: Request) -> dict[str, Any]:
    data = req.as_dict()
    data["kind"] = "request"
    data["hosts"] = list((req.result or {}).get("hosts", []))
    return data
