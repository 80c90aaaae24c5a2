"""Block Kit for a request's channel message, rendered from the core's RequestView alone (never by
calling back into the service): the plan (rung, why, hosts, blast radius), the approval with
Approve/Deny buttons naming who may approve and when it expires, progress and the result per host
(rung, method, PIDs before and after, AppDomain evidence, warm-up, duration), who asked and who
approved, and the next step when something failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def mention(person: Any) -> str:
    """A person by immutable ID: <@U...> for users, <!subteam^S...> for user groups, else as shown."""
    pid = str(person.id)
    if pid.startswith(("U", "W")):
        return f"<@{pid}>"
    if pid.startswith("S"):
        return f"<!subteam^{pid}>"
    return str(getattr(person, "display", None) or pid)


def when(at: datetime | None, words: str = "{date_short_pretty} at {time}") -> str:
    """A time every reader sees in their own timezone (Slack's date token), with a UTC fallback."""
    if at is None:
        return "?"
    return f"<!date^{int(at.timestamp())}^{words}|{at.strftime('%Y-%m-%d %H:%M UTC')}>"


def state_text(state: str) -> str:
    return STATE_WORDS.get(state, state.replace("_", " "))


def pids(values: Any) -> str:
    return ", ".join(str(p) for p in values) if values else "none"


def render_host(host: Any) -> str:
    ok = host.outcome == "succeeded"
    mark = ":white_check_mark:" if ok else (":arrows_counterclockwise:" if host.outcome == "running" else ":x:")
    parts = [f"{mark} *{host.host}* {host.outcome}", f"{host.rung} ({host.method})",
             f"PIDs {pids(host.pids_before)} → {pids(host.pids_after)}"]
    if host.appdomain_before or host.appdomain_after:
        parts.append(f"AppDomain {host.appdomain_before or '-'} → {host.appdomain_after or '-'}")
    if host.warmup_status is not None or host.warmup_ms is not None:
        parts.append(f"warm-up {host.warmup_status if host.warmup_status is not None else 'no answer'}"
                     f" in {host.warmup_ms if host.warmup_ms is not None else '?'} ms")
    if host.duration_ms is not None:
        parts.append(f"{host.duration_ms / 1000:.1f} s")
    line = " · ".join(parts)
    if host.error:
        line += f"\n      {host.error}" + (f" [{host.error_code}]" if host.error_code else "")
    return line


def render_plan_lines(plan: Any) -> list[str]:
    lines = ["*Why:* " + "; ".join(plan.why) if plan.why else "*Why:* asked for this rung"]
    lines.append(f"*Hosts:* {', '.join(plan.hosts)} · pool `{plan.pool}`")
    radius = list(plan.blast_radius)
    others = [s for s in radius if s != plan.site]
    lines.append(f"*Blast radius:* {', '.join(radius)}" + (" (shared pool)" if others else ""))
    if plan.wider_than_needed:
        lines.append(f":warning: {plan.wider_than_needed}")
    lines += [f":warning: {w}" for w in plan.warnings]
    return lines


def render_request(view: Any) -> Rendered:
    """The request's one channel message, for every state it goes through."""
    state = str(view.state)
    mark = STATE_MARK.get(state, "")
    head = f"{mark} *{view.site}*: {view.rung} restart `{view.id}` · {state_text(state)}"
    asked = f"Asked by {mention(view.requester)}" + (f": {view.reason}" if view.reason else "")
    asked += f" · {when(view.created_at)}"
    blocks: list[dict[str, Any]] = [section(head), context(asked)]
    if view.plan is not None:
        blocks.append(section("\n".join(render_plan_lines(view.plan))))
    approvals = [f"approved by {mention(a.by)} {when(a.at, '{time}')}" for a in view.approvals]
    if state == "awaiting_approval":
        who = ", ".join(mention(p) for p in view.approvers) or "nobody (check the policy's approvers)"
        needed = getattr(view.plan.decision, "approvals", 1) if view.plan is not None else 1
        line = f"*Needs approval* from {who} ({len(view.approvals)} of {needed}) · expires {when(view.expires_at)}"
        blocks.append(section(line + ("\n" + "; ".join(approvals) if approvals else "")))
        blocks.append({"type": "actions", "block_id": f"approval:{view.id}", "elements": [
            button("Approve", APPROVE, view.id, "primary"), button("Deny", DENY, view.id, "danger")]})
    elif approvals:
        blocks.append(context("; ".join(approvals).capitalize()))
    if state == "expired":
        blocks.append(context(f"Expired {when(view.expires_at)} without approval: the buttons are gone; "
                              f"ask again with `/recycle {view.site} ...`"))
    if view.hosts:
        blocks.append(section("\n".join(render_host(h) for h in view.hosts)))
    elif state == "running":
        blocks.append(context(f"Running on {', '.join(view.plan.hosts) if view.plan else 'its hosts'}…"))
    if view.message:
        blocks.append(context(str(view.message)))
    if view.next_step:
        blocks.append(section(f"*Next step:* {view.next_step}"))
    return Rendered(text=summary(view), blocks=blocks)


def summary(view: Any) -> str:
    text = f"{view.site}: {view.rung} restart {view.id} is {state_text(str(view.state))}"
    for host in view.hosts:
        text += f"; {host.host} PIDs {pids(host.pids_before)} -> {pids(host.pids_after)}"
    return text


def follow_up_text(view: Any) -> str | None:
    """The thread reply that tells the requester how it ended."""
    state = str(view.state)
    if state in ("awaiting_approval", "approved", "running"):
        return None
    by = ", ".join(mention(a.by) for a in view.approvals)
    text = f"{mention(view.requester)} `{view.id}` {state_text(state)}" + (f" (approved by {by})" if by else "")
    if view.next_step and state != "succeeded":
        text += f". Next: {view.next_step}"
    return text
