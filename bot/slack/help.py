"""`/recycle help` for one person: which rungs they may run on which site (at once or with an
approval), whether they approve anything, and only the commands that do something for them. The
policy's own decision answers each question, so help never promises what a request would refuse."""

from __future__ import annotations

from datetime import datetime

from bot.app.views import HelpView
from commands.model import RestartRequest
from commands.rungs import EXECUTABLE_RUNGS
from policies.decision import Allow, NeedsApproval, decide
from policies.identity import Principal, covers
from policies.inventory import Inventory
from policies.planner import PlanError, plan
from policies.policy import Policy

# in Slack, `requests` alone is this edge's own list (bot/slack/requests_list.py)
REQUESTS_IN_SLACK = ("  /recycle requests           what waits on your approval, and your own, linked to their "
                     "messages;\n    with SITE or --state STATE: everyone's latest")


def site_lines(principal: Principal, policy: Policy, inventory: Inventory, now: datetime) -> list[str]:
    lines = []
    for name, site in sorted(inventory.sites.items()):
        now_rungs, approved_rungs = [], []
        for rung in EXECUTABLE_RUNGS:
            try:
                the_plan = plan(RestartRequest(site=name, scope=rung), inventory, policy)
                decision = decide(the_plan, principal, policy, now)
            except PlanError:
                continue
            if isinstance(decision, Allow):
                now_rungs.append(rung.value)
            elif isinstance(decision, NeedsApproval):
                approved_rungs.append(rung.value)
        if now_rungs or approved_rungs:
            parts = [", ".join(now_rungs)] if now_rungs else []
            if approved_rungs:
                parts.append(f"{', '.join(approved_rungs)} with approval")
            lines.append(f"• *{name}* ({site.environment}): {' · '.join(parts)}")
    return lines


def approves_anything(principal: Principal, policy: Policy) -> bool:
    names = [n for rule in policy.rules for n in rule.approvers] + list(policy.approval.wider_than_needed_approvers)
    return any(covers(n, principal, policy) for n in names)


def personal_help(view: HelpView, principal: Principal, policy: Policy, inventory: Inventory, now: datetime) -> str:
    if view.topic is not None:
        return view.text
    sites = site_lines(principal, policy, inventory, now)
    approver = approves_anything(principal, policy)
    kept = []
    for line in view.text.splitlines():
        if "approve ID" in line and not approver:
            continue
        if "deny ID" in line and not approver:
            line = line.replace("deny ID", "deny ID (cancels your own request)")
        if line.strip().startswith("/recycle SITE") and not sites:
            continue
        if line.strip().startswith("/recycle requests"):
            line = REQUESTS_IN_SLACK
        kept.append(line)
    if sites:
        kept += ["", "*You may restart:*", *sites]
    else:
        kept += ["", "You may not restart anything here; `plan`, `status` and `sites` are read-only and open to you."]
    kept.append("You approve other people's requests where the policy names you." if approver
                else "You do not approve requests.")
    return "\n".join(kept)
