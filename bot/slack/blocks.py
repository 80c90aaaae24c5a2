"""Block Kit for a request's channel message, rendered from the core's RequestView alone (never by
calling back into the service): the plan (rung, why, hosts, blast radius), the approval with
Approve/Deny buttons naming who may approve and when it expires, progress and the result per host
(rung, method, PIDs before and after, AppDomain evidence, warm-up, duration), who asked and who
approved, and the next step when something failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.app.views import HostResultView, PlanView, RequestView

APPROVE, DENY, DEPLOY_RUN = "aspreset.approve", "aspreset.deny", "aspreset.deploy_run"
MAX_TEXT = 2900  # a section's text may hold 3000 characters

STATE_MARK = {
    "awaiting_approval": ":hourglass_flowing_sand:",
    "approved": ":white_check_mark:",
    "running": ":arrows_counterclockwise:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "partially_failed": ":warning:",
    "denied": ":no_entry_sign:",
    "cancelled": ":heavy_multiplication_x:",
    "expired": ":alarm_clock:",
    "refused": ":no_entry:",
    "interrupted": ":warning:",
}
STATE_WORDS = {
    "awaiting_approval": "waiting for approval",
    "approved": "approved, starting",
    "partially_failed": "partly failed",
    "interrupted": "interrupted: the bot that ran it stopped mid-run; check the hosts with `/recycle status`",
}


@dataclass(frozen=True)
class Rendered:
    text: str  # the notification and screen-reader text
    blocks: list[dict[str, Any]]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_TEXT]}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id,
                           "value": value}
    if style:
        out["style"] = style
    return out


def mention(principal_id: str) -> str:
    """A principal by immutable ID: <@U...> for users, <!subteam^S...> for user groups, else as is."""
    if principal_id.startswith(("U", "W")):
        return f"<@{principal_id}>"
    if principal_id.startswith("S"):
        return f"<!subteam^{principal_id}>"
    return f"`{principal_id}`"


def when(at: datetime | None, words: str = "{date_short_pretty} at {time}") -> str:
    """A time every reader sees in their own timezone (Slack's date token), with a UTC fallback."""
    if at is None:
        return "?"
    return f"<!date^{int(at.timestamp())}^{words}|{at.strftime('%Y-%m-%d %H:%M UTC')}>"


def state_text(state: str) -> str:
    return STATE_WORDS.get(state, state.replace("_", " "))


def pids(values: list[int]) -> str:
    return ", ".join(str(p) for p in values) if values else "none"


def render_host(host: HostResultView) -> str:
    mark = ":white_check_mark:" if host.outcome == "succeeded" else (
        ":heavy_minus_sign:" if host.outcome == "skipped" else ":x:")
    parts = [f"{mark} *{host.host}* {host.outcome}", f"{host.rung} ({host.method})",
             f"PIDs {pids(host.pids_before)} → {pids(host.pids_after)}"]
    if host.appdomain_before or host.appdomain_after:
        parts.append(f"AppDomain {host.appdomain_before or '-'} → {host.appdomain_after or '-'}")
    evidence = (host.model_extra or {}).get("evidence")
    if evidence:
        parts.append(f"evidence: {', '.join(map(str, evidence)) if isinstance(evidence, list) else evidence}")
    if host.warmup_status is not None or host.warmup_ms is not None:
        status = host.warmup_status if host.warmup_status is not None else "no answer"
        parts.append(f"warm-up {status} in {host.warmup_ms if host.warmup_ms is not None else '?'} ms")
    parts.append(f"{host.duration_ms} ms" if host.duration_ms < 1000 else f"{host.duration_ms / 1000:.1f} s")
    line = " · ".join(parts)
    if host.error:
        line += f"\n      {host.error}" + (f" [{host.error_code}]" if host.error_code else "")
    return line


def host_sections(hosts: list[HostResultView]) -> list[str]:
    """One line per host, as many sections as a big farm needs (a section holds 3000 characters)."""
    out: list[str] = []
    for line in (render_host(h) for h in hosts):
        if out and len(out[-1]) + len(line) + 1 <= MAX_TEXT:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def render_plan_lines(plan: PlanView) -> list[str]:
    lines = ["*Why:* " + "; ".join(plan.why) if plan.why else "*Why:* the rung was asked for"]
    lines.append(f"*Hosts:* {', '.join(plan.hosts)} · pool `{plan.pool}` · {plan.environment}")
    shared = [s for s in plan.blast_radius if s != plan.site]
    lines.append(f"*Blast radius:* {', '.join(plan.blast_radius)}" + (" (shared pool)" if shared else ""))
    if plan.wider_than_needed:
        lines.append(f":warning: {plan.wider_than_needed}")
    lines += [f":warning: {w}" for w in plan.warnings]
    return lines


def render_request(view: RequestView) -> Rendered:
    """The request's one channel message, for every state it goes through."""
    state = view.state
    method = f" ({view.plan.method})" if view.plan else ""
    head = f"{STATE_MARK.get(state, '')} *{view.site}*: {view.rung}{method} restart `{view.id}` · {state_text(state)}"
    asked = f"Asked by {mention(view.requester)}" + (f": {view.reason}" if view.reason else "")
    blocks: list[dict[str, Any]] = [section(head), context(f"{asked} · {when(view.created_at)}")]
    if view.plan is not None:
        blocks.append(section("\n".join(render_plan_lines(view.plan))))
    approvals = [f"approved by {mention(a.approver)} {when(a.at, '{time}')}" for a in view.approvals]
    if state == "awaiting_approval":
        who = ", ".join(mention(a) for a in view.approvers) or "nobody (check the policy's approvers)"
        line = (f"*Needs approval* from {who} ({len(view.approvals)} of {view.approvals_needed or 1}) · "
                f"expires {when(view.expires_at)}")
        blocks.append(section(line + ("\n" + "; ".join(approvals) if approvals else "")))
        blocks.append({"type": "actions", "block_id": f"approval:{view.id}", "elements": [
            button("Approve", APPROVE, view.id, "primary"), button("Deny", DENY, view.id, "danger")]})
    elif approvals:
        blocks.append(context("Approved by " + "; ".join(a.removeprefix("approved by ") for a in approvals)))
    if state == "expired":
        blocks.append(context(f"Expired {when(view.expires_at)} without approval: nothing was run. "
                              f"Ask again with `/recycle {view.site} ...`"))
    if state == "denied":
        blocks.append(context(f"Denied: {view.deny_reason or 'no reason given'}"))
    blocks += [section(text) for text in host_sections(view.hosts)]
    if not view.hosts and state == "running":
        blocks.append(context(f"Running on {', '.join(view.targets)}…"))
    if view.error:
        blocks.append(section(f":x: {view.error}"))
    if view.next_step and state != "awaiting_approval":  # while waiting, the buttons are the next step
        blocks.append(context(f"Next: {view.next_step}"))
    return Rendered(text=summary(view), blocks=blocks)


def summary(view: RequestView) -> str:
    text = f"{view.site}: {view.rung} restart {view.id} is {state_text(view.state)}"
    for host in view.hosts:
        text += f"; {host.host} PIDs {pids(host.pids_before)} -> {pids(host.pids_after)}"
    return text


def follow_up_text(view: RequestView) -> str | None:
    """The thread reply that tells the requester how it ended."""
    if view.state in ("awaiting_approval", "approved", "running"):
        return None
    by = ", ".join(mention(a.approver) for a in view.approvals)
    text = f"{mention(view.requester)} `{view.id}` {state_text(view.state)}" + (f" (approved by {by})" if by else "")
    if view.hosts:
        text += ": " + "; ".join(f"{h.host} {h.outcome}, PIDs {pids(h.pids_before)} → {pids(h.pids_after)}"
                                 for h in view.hosts)
    if view.next_step and view.state != "succeeded":
        text += f". Next: {view.next_step}"
    return text
