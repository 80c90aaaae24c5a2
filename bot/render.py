"""Plans, decisions and results as JSON objects and as the text the bot says. One place, so the
CLI, the chat console and Slack say the same thing."""

from __future__ import annotations

from typing import Any

from bot.service import Planned
from policies.decision import Decision, NeedsApproval, Refuse


def decision_json(decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": decision.outcome, "rule": decision.rule, "reasons": list(decision.reasons)}
    if isinstance(decision, NeedsApproval):
        out["approvers"] = list(decision.approvers)
        out["approvals"] = decision.approvals
        out["expires_in_s"] = decision.expires_in_s
    if isinstance(decision, Refuse):
        out["alternative"] = decision.alternative.value if decision.alternative else None
        out["source"] = decision.source
    return out


def plan_json(planned: Planned) -> dict[str, Any]:
    plan = planned.plan
    return {
        "site": plan.site,
        "environment": plan.environment,
        "rung": plan.rung.value,
        "needed": plan.needed.value if plan.needed else None,
        "method": plan.method,
        "hosts": list(plan.hosts),
        "pool": plan.pool,
        "blast_radius": list(plan.blast_radius),
        "wider_than_needed": plan.wider_than_needed,
        "why": list(plan.why),
        "warnings": list(plan.warnings),
        "decision": decision_json(planned.decision),
    }


def plan_text(planned: Planned) -> str:
    plan = planned.plan
    lines = [
        f"Plan for {plan.site} ({plan.environment}): {plan.rung.value} via {plan.method} "
        f"on {', '.join(plan.hosts)}",
    ]
    lines += [f"  why: {line}" for line in plan.why]
    if len(plan.blast_radius) > 1 or plan.blast_radius != (plan.site,):
        lines.append(f"  blast radius: {', '.join(plan.blast_radius)} (pool {plan.pool})")
    if plan.wider_than_needed:
        lines.append(f"  note: {plan.wider_than_needed}")
    lines += [f"  warning: {line}" for line in plan.warnings]
    lines.append(decision_text(planned.decision))
    return "\n".join(lines)


def decision_text(decision: Decision) -> str:
    if isinstance(decision, Refuse):
        text = f"Refused ({decision.rule}): " + "; ".join(decision.reasons) + "."
        if decision.alternative is not None:
            text += f" The narrowest restart that does the job: --scope {decision.alternative.value}."
        return text
    if isinstance(decision, NeedsApproval):
        minutes = decision.expires_in_s // 60
        return (
            f"Needs {decision.approvals} approval(s) from {', '.join(decision.approvers)} "
            f"(not the requester) within {minutes} min: " + "; ".join(decision.reasons) + "."
        )
    return "Allowed: " + "; ".join(decision.reasons) + "."
