"""Plans, decisions and results as JSON objects and as the text the bot says. One place, so the
CLI, the chat console and Slack say the same thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app.errors import ExecutionError
from bot.app.results import StatusResult
from bot.app.service import Outcome, Planned, decision_dict
from policies.decision import Decision, NeedsApproval, Refuse


def plan_json(planned: Planned) -> dict[str, Any]:
    plan = planned.plan
    return {
        "site": plan.site,
        "environment": plan.environment,
        "rung": plan.rung.value,
        "needed": plan.needed.value if plan.needed else None,
        "method": plan.method,
        "hosts": list(plan.hosts),
        "waves": [list(wave) for wave in plan.host_waves],
        "keep_going": plan.keep_going,
        "pool": plan.pool,
        "blast_radius": list(plan.blast_radius),
        "wider_than_needed": plan.wider_than_needed,
        "why": list(plan.why),
        "warnings": list(plan.warnings),
        "decision": decision_dict(planned.decision),
    }


def plan_text(planned: Planned, who: Callable[[str], str] = str) -> str:
    plan = planned.plan
    lines = [
        f"Plan for {plan.site} ({plan.environment}): {plan.rung.value} via {plan.method} "
        f"on {', '.join(plan.hosts)}",
    ]
    lines += [f"  why: {line}" for line in plan.why]
    lines.append(f"  {waves_text(plan.host_waves, plan.keep_going)}")
    if len(plan.blast_radius) > 1 or plan.blast_radius != (plan.site,):
        lines.append(f"  blast radius: {', '.join(plan.blast_radius)} (pool {plan.pool})")
    if plan.wider_than_needed:
        lines.append(f"  note: {plan.wider_than_needed}")
    lines += [f"  warning: {line}" for line in plan.warnings]
    lines.append(decision_text(planned.decision, who))
    return "\n".join(lines)


def waves_text(waves: tuple[tuple[str, ...], ...], keep_going: bool) -> str:
    """`waves: 3 (web01, web02 | web03, web04 | web05), each warmed up and verified before the next`."""
    if len(waves) <= 1:
        return "waves: 1 (every host at once)"
    shown = " | ".join(", ".join(wave) for wave in waves[:6]) + (" | ..." if len(waves) > 6 else "")
    stop = "a failure does not stop the rest" if keep_going else "the first failure stops the rest"
    return f"waves: {len(waves)} ({shown}), each warmed up and verified before the next; {stop}"


def rollout_text(result: dict[str, Any] | None, prefix: str = "aspreset ") -> list[str]:
    """What happened host by host, in a line or two: `3 of 5 ok; web03 failed; 2 untouched: ...`."""
    if not result or "hosts" not in result:
        return []
    hosts, untouched = result["hosts"], result.get("untouched") or []
    ok = sum(1 for h in hosts if h["outcome"] == "succeeded")
    parts = [f"{ok} of {len(hosts) + len(untouched)} ok"]
    failed = [h["host"] for h in hosts if h["outcome"] != "succeeded"]
    if failed:
        parts.append(", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "") + " failed")
    if untouched:
        parts.append(f"{len(untouched)} untouched ({', '.join(untouched[:5])}{' ...' if len(untouched) > 5 else ''})")
    lines = ["; ".join(parts)]
    if result.get("resume"):
        lines.append(f"resume with: {prefix}{result['resume']}")
    if result.get("retry") and failed:
        lines.append(f"retry the failed host with: {prefix}{result['retry']}")
    return lines


def decision_text(decision: Decision, who: Callable[[str], str] = str) -> str:
    if isinstance(decision, Refuse):
        text = f"Refused ({decision.rule}): " + "; ".join(decision.reasons) + "."
        if decision.alternative is not None:
            text += f" The narrowest restart that does the job: --scope {decision.alternative.value}."
        return text
    if isinstance(decision, NeedsApproval):
        minutes = decision.expires_in_s // 60
        return (
            f"Needs {decision.approvals} approval(s) from {', '.join(who(a) for a in decision.approvers)} "
            f"(not the requester) within {minutes} min: " + "; ".join(decision.reasons) + "."
        )
    return "Allowed: " + "; ".join(decision.reasons) + "."


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {"state": outcome.state, "message": outcome.message, "exit_code": outcome.exit_code}
    if outcome.request is not None:
        out["request_id"] = outcome.request.id
        out["site"] = outcome.request.site
        out["rung"] = outcome.request.rung.value
    if outcome.planned is not None:
        out["plan"] = plan_json(outcome.planned)
    elif outcome.request is not None:
        out["decision"] = dict(outcome.request.decision)
    result = outcome.report.to_json() if outcome.report is not None else (
        dict(outcome.request.result) if outcome.request is not None and outcome.request.result else None)
    if result is not None and "hosts" in result:
        out["hosts"] = result["hosts"]
        for key in ("untouched", "resume", "retry"):
            if key in result:
                out[key] = result[key]
    return out


def outcome_text(outcome: Outcome, who: Callable[[str], str] = str) -> str:
    lines: list[str] = []
    if outcome.planned is not None:
        lines.append(plan_text(outcome.planned, who))
    req = outcome.request
    if req is not None:
        head = f"Request {req.id} ({req.site}, {req.rung.value}, asked by {who(req.requester)}): {outcome.state}"
        if outcome.state == "awaiting_approval" and req.expires_at:
            head += f", approve with `approve {req.id}` before {req.expires_at:%H:%M} UTC"
        lines.append(head)
        if outcome.message and outcome.message not in head:
            lines.append(f"  {outcome.message}")
        approvals = ", ".join(who(a.approver) for a in req.approvals)
        if approvals:
            lines.append(f"  approved by {approvals}")
    elif outcome.planned is None:
        lines.append(outcome.message)
    hosts = outcome.report.hosts if outcome.report else []
    lines += [host_text(h.to_json()) for h in hosts]
    if outcome.report is not None and (outcome.report.untouched or outcome.report.retry):
        lines += [f"  {line}" for line in rollout_text(outcome.report.to_json())]
    return "\n".join(lines)


def host_text(host: dict[str, Any]) -> str:
    if host["outcome"] != "succeeded":
        return f"  {host['host']}: FAILED {host['error']} [{host.get('error_code')}]"
    pids = f"PIDs {_pids(host['pids_before'])} -> {_pids(host['pids_after'])}"
    domain = ""
    if host.get("appdomain_before") or host.get("appdomain_after"):
        domain = f", AppDomain {host['appdomain_before']} -> {host['appdomain_after']}"
    warm = f", warm-up HTTP {host['warmup_status']} in {host['warmup_ms']} ms" if host.get("warmup_status") else ""
    return f"  {host['host']}: ok, {host['method']}: {pids}{domain}{warm}, {host['duration_ms']} ms"


def _pids(pids: list[int]) -> str:
    return "[" + ", ".join(str(p) for p in pids) + "]" if pids else "none"


def status_json(site: str, results: list[tuple[str, StatusResult | ExecutionError]]) -> dict[str, Any]:
    hosts = []
    for name, result in results:
        if isinstance(result, ExecutionError):
            hosts.append({"host": name, "ok": False, "error": result.detail, "error_code": type(result).__name__})
        else:
            hosts.append({"host": name, **result.model_dump()})
    return {"site": site, "hosts": hosts}


def status_text(site: str, results: list[tuple[str, StatusResult | ExecutionError]]) -> str:
    lines = [f"Status of {site}:"]
    for name, result in results:
        if isinstance(result, ExecutionError):
            lines.append(f"  {name}: unreachable: {result.detail}")
        elif not result.ok:
            lines.append(f"  {name}: {result.error} [{result.error_code}]")
        else:
            pids = _pids([w.pid for w in result.workers])
            offline = ", app_offline.htm PRESENT" if result.app_offline else ""
            lines.append(
                f"  {name}: pool {result.pool_state} ({result.start_mode}), {result.worker_process_name} {pids}, "
                f"AppDomain {result.appdomain_id}, IIS {result.iis_major_version}{offline}"
            )
    return "\n".join(lines)
