"""Block Kit for a request's channel message, rendered from the core's RequestView alone (never by
calling back into the service): the plan (rung, why, hosts, blast radius), the approval with
Approve/Deny buttons naming who may approve and when it expires, progress and the result per host
(rung, method, PIDs before and after, AppDomain evidence, warm-up, duration), who asked and who
approved, and the next step when something failed.

Every text that came from outside the bot (reasons, paths, host errors, names) is escaped
(bot/slack/mrkdwn.py); long text continues in further sections, and a message keeps to Slack's 50
blocks with "…and N more lines" and the rest for the thread (`Rendered.overflow`)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.app.records import RequestState
from bot.app.views import HostResultView, PlanView, RequestView
from bot.slack.mrkdwn import MAX_BLOCKS, SECTION_LIMIT, chunks, code, escape, for_chat

APPROVE, DENY, DEPLOY_RUN = "aspreset.approve", "aspreset.deny", "aspreset.deploy_run"
CANCEL = "aspreset.cancel"  # the requester's own: withdraw it before it runs
RETRY, STATUS = "aspreset.retry", "aspreset.status"  # on a failed run's message
MAX_BUTTON_TEXT = 75

STATE_MARK: dict[str, str] = {
    RequestState.AWAITING_APPROVAL: ":hourglass_flowing_sand:",
    RequestState.APPROVED: ":white_check_mark:",
    RequestState.RUNNING: ":arrows_counterclockwise:",
    RequestState.SUCCEEDED: ":white_check_mark:",
    RequestState.FAILED: ":x:",
    RequestState.PARTIALLY_FAILED: ":warning:",
    RequestState.DENIED: ":no_entry_sign:",
    RequestState.CANCELLED: ":heavy_multiplication_x:",
    RequestState.EXPIRED: ":alarm_clock:",
    RequestState.REFUSED: ":no_entry:",
    RequestState.INTERRUPTED: ":warning:",
}
STATE_WORDS: dict[str, str] = {
    RequestState.AWAITING_APPROVAL: "waiting for approval",
    RequestState.APPROVED: "approved, starting",
    RequestState.PARTIALLY_FAILED: "partly failed",
    RequestState.EXPIRED: "expired without approval: nothing ran",
    RequestState.INTERRUPTED: (
        "interrupted: the bot that ran it stopped mid-run; check the hosts with `/recycle status`"
    ),
}


@dataclass(frozen=True)
class Rendered:
    text: str  # the notification and screen-reader text
    blocks: list[dict[str, Any]]
    overflow: list[str] = field(default_factory=list)  # what did not fit in 50 blocks: for the thread


def sections(text: str) -> list[dict[str, Any]]:
    """One section, or as many as the text needs (a section holds 3000 characters)."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in chunks(text)]


def section(text: str) -> dict[str, Any]:
    """A section for text known to be short; `fit` splits it if it is not."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def fit(text: str, blocks: list[dict[str, Any]], keep_last: int = 1) -> Rendered:
    """Within Slack's limits, cutting nothing silently: a section or context over 3000 characters
    continues in further ones; past 50 blocks the message ends with "…and N more lines" (before its
    last `keep_last` blocks, which say what to do next) and those lines are kept in `overflow`."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "section" and len(block["text"]["text"]) > SECTION_LIMIT:
            out += sections(block["text"]["text"])
        elif block["type"] == "context" and len(block["elements"][0]["text"]) > SECTION_LIMIT:
            out += [context(piece) for piece in chunks(block["elements"][0]["text"])]
        else:
            out.append(block)
    if len(out) <= MAX_BLOCKS:
        return Rendered(text, out)
    keep_last = max(1, keep_last)
    head, last = out[:-keep_last], out[-keep_last:]
    buttons = [b for b in head[MAX_BLOCKS - 1 - keep_last:] if b["type"] == "actions"]  # buttons never go
    room = MAX_BLOCKS - 1 - keep_last - len(buttons)
    kept = head[:room] + buttons
    dropped = [b for b in head[room:] if b["type"] != "actions"]
    overflow = [_text_of(b) for b in dropped]
    lines = sum(t.count("\n") + 1 for t in overflow)
    more = context(f"…and {lines} more line{'s' if lines != 1 else ''}, in the thread")
    return Rendered(text, [*kept, more, *last], overflow)


def _text_of(block: dict[str, Any]) -> str:
    if block["type"] == "section":
        return str(block["text"]["text"])
    return "\n".join(str(e.get("text", "")) for e in block.get("elements", []) if isinstance(e.get("text"), str))


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    label = text if len(text) <= MAX_BUTTON_TEXT else text[:MAX_BUTTON_TEXT - 1] + "…"
    out: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": label},
                           "action_id": action_id, "value": value}
    if style:
        out["style"] = style
    return out


def mention(principal_id: str) -> str:
    """A principal by immutable ID: <@U...> for users, <!subteam^S...> for user groups, else as is."""
    if principal_id.startswith(("U", "W")):
        return f"<@{principal_id}>"
    if principal_id.startswith("S"):
        return f"<!subteam^{principal_id}>"
    return code(principal_id)


def when(at: datetime | None, words: str = "{date_short_pretty} at {time}") -> str:
    """A time every reader sees in their own timezone (Slack's date token), with a UTC fallback."""
    if at is None:
        return "?"
    return f"<!date^{int(at.timestamp())}^{words}|{at.strftime('%Y-%m-%d %H:%M UTC')}>"


def state_text(state: str) -> str:
    return STATE_WORDS.get(state, state.replace("_", " "))


def pids(values: list[int]) -> str:
    return ", ".join(str(p) for p in values) if values else "none"


HOST_MARK = {"succeeded": ":white_check_mark:", "skipped": ":heavy_minus_sign:", "unknown": ":grey_question:"}
HOST_WORDS = {"skipped": "not started", "unknown": "state unknown"}


def render_host(host: HostResultView) -> str:
    mark = HOST_MARK.get(host.outcome, ":x:")
    head = f"{mark} *{escape(host.host)}* {escape(HOST_WORDS.get(host.outcome, host.outcome))}"
    if host.outcome in HOST_WORDS:  # it has no result: no PIDs or timings to show
        return f"{head}\n      {escape(for_chat(host.error))}" if host.error else head
    parts = [head, f"{escape(host.rung)} ({escape(host.method)})",
             f"PIDs {pids(host.pids_before)} → {pids(host.pids_after)}"]
    if host.appdomain_before or host.appdomain_after:
        parts.append(f"AppDomain {escape(host.appdomain_before or '-')} → {escape(host.appdomain_after or '-')}")
    evidence = (host.model_extra or {}).get("evidence")
    if evidence:
        shown = ", ".join(map(str, evidence)) if isinstance(evidence, list) else str(evidence)
        parts.append(f"evidence: {escape(shown)}")
    if host.warmup_status is not None or host.warmup_ms is not None:
        status = host.warmup_status if host.warmup_status is not None else "no answer"
        parts.append(f"warm-up {status} in {host.warmup_ms if host.warmup_ms is not None else '?'} ms")
    parts.append(f"{host.duration_ms} ms" if host.duration_ms < 1000 else f"{host.duration_ms / 1000:.1f} s")
    line = " · ".join(parts)
    if host.error:
        line += f"\n      {escape(for_chat(host.error))}" + (f" [{escape(host.error_code)}]" if host.error_code else "")
    return line


def host_sections(hosts: list[HostResultView]) -> list[str]:
    """One line per host, as many sections as a big farm needs (a section holds 3000 characters)."""
    return chunks("\n".join(render_host(h) for h in hosts)) if hosts else []


def render_plan_lines(plan: PlanView) -> list[str]:
    lines = ["*Why:* " + escape("; ".join(plan.why)) if plan.why else "*Why:* the rung was asked for"]
    lines.append(f"*Hosts:* {escape(', '.join(plan.hosts))} · pool {code(plan.pool)} · {escape(plan.environment)}")
    shared = [s for s in plan.blast_radius if s != plan.site]
    lines.append(f"*Blast radius:* {escape(', '.join(plan.blast_radius))}" + (" (shared pool)" if shared else ""))
    if plan.wider_than_needed:
        lines.append(f":warning: {escape(plan.wider_than_needed)}")
    lines += [f":warning: {escape(for_chat(w))}" for w in plan.warnings]
    lines += [f":mag: {escape(for_chat(line))}" for line in plan.seen_on_hosts]  # read on the hosts before acting
    return lines


def render_request(view: RequestView) -> Rendered:
    """The request's one channel message, for every state it goes through."""
    state = view.state
    method = f" ({escape(view.plan.method)})" if view.plan else ""
    head = (f"{STATE_MARK.get(state, '')} *{escape(view.site)}*: {escape(view.rung)}{method} restart "
            f"{code(view.id)} · {state_text(state)}")
    asked = f"Asked by {mention(view.requester)}" + (f": {escape(view.reason)}" if view.reason else "")
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
            button("Approve", APPROVE, view.id, "primary"), button("Deny", DENY, view.id, "danger"),
            button("Cancel (requester)", CANCEL, view.id)]})
    elif approvals:
        blocks.append(context("Approved by " + "; ".join(a.removeprefix("approved by ") for a in approvals)))
    if state == "expired":
        blocks.append(context(f"Expired {when(view.expires_at)} without approval: nothing was run. "
                              f"Ask again with {code(f'/recycle {view.site} ...')}"))
    if state == "denied":
        blocks.append(context(f"Denied: {escape(view.deny_reason or 'no reason given')}"))
    blocks += [section(text) for text in host_sections(view.hosts)]
    after_hosts = len(blocks)
    if not view.hosts and state == "running":
        blocks.append(context(f"Running on {escape(', '.join(view.targets))}…"))
    if view.error:
        blocks.append(section(f":x: {escape(for_chat(view.error))}"))
    if view.next_step and state != "awaiting_approval":  # while waiting, the buttons are the next step
        blocks.append(context(f"Next: {escape(for_chat(view.next_step))}"))
    if state in ("failed", "partially_failed", "interrupted"):
        label = retry_label(view.retry, "left" if state == "interrupted" else "failed") if view.retry else ""
        elements = [button(label, RETRY, view.id, "primary")] if view.retry else []
        blocks.append({"type": "actions", "block_id": f"failed:{view.id}",
                       "elements": [*elements, button("Status", STATUS, view.site)]})
    return fit(summary(view), blocks, keep_last=len(blocks) - after_hosts)


def retry_label(retry: str, which: str = "failed") -> str:
    """The Retry button's text: the hosts a retry command names (`recycle SITE --scope RUNG --host
    HOST ...`), or how many when their names would not fit on a button. `which`: "failed", or "left"
    for an interrupted run (every host not known to be done)."""
    words = retry.split()
    hosts = list(itertools.takewhile(lambda w: not w.startswith("--"), words[words.index("--host") + 1:])) \
        if "--host" in words else []
    names = ", ".join(hosts)
    if hosts and len(names) <= 40:
        return f"Finish on {names}" if which == "left" else f"Retry {names}"
    if which == "left":
        return f"Finish the {len(hosts)} hosts left" if hosts else "Finish the hosts left"
    return f"Retry the {len(hosts)} failed hosts" if hosts else "Retry failed hosts"


def host_in_short(host: HostResultView) -> str:
    said = f"{escape(host.host)} {escape(HOST_WORDS.get(host.outcome, host.outcome))}"
    return said if host.outcome in HOST_WORDS else f"{said}, PIDs {pids(host.pids_before)} → {pids(host.pids_after)}"


def summary(view: RequestView) -> str:
    """The notification text: short (a phone shows a line or two), the hosts' PIDs only for a few."""
    text = f"{escape(view.site)}: {escape(view.rung)} restart {escape(view.id)} is {state_text(view.state)}"
    for host in view.hosts[:10]:
        text += f"; {escape(host.host)} " + (escape(HOST_WORDS[host.outcome]) if host.outcome in HOST_WORDS
                                             else f"PIDs {pids(host.pids_before)} -> {pids(host.pids_after)}")
    if len(view.hosts) > 10:
        text += f"; …and {len(view.hosts) - 10} more hosts"
    return text


def follow_up_text(view: RequestView) -> str | None:
    """The thread reply that tells the requester how it ended."""
    if view.state in ("awaiting_approval", "approved", "running"):
        return None
    by = ", ".join(mention(a.approver) for a in view.approvals)
    text = f"{mention(view.requester)} {code(view.id)} {state_text(view.state)}"
    text += f" (approved by {by})" if by else ""
    if view.state == "denied":
        text += f": {escape(view.deny_reason or 'no reason given')}"
    if 0 < len(view.hosts) <= 10:
        text += ": " + "; ".join(host_in_short(h) for h in view.hosts)
    elif view.hosts:  # a big farm: the counts, and which hosts did not succeed (the message has each host)
        outcomes = Counter(h.outcome for h in view.hosts)
        text += ": " + ", ".join(f"{n} {escape(outcome)}" for outcome, n in sorted(outcomes.items()))
        for outcome in ("failed", "unknown"):
            named = [h.host for h in view.hosts if h.outcome == outcome]
            if named:
                more = f" …and {len(named) - 20} more" if len(named) > 20 else ""
                text += f" ({HOST_WORDS.get(outcome, outcome)}: {escape(', '.join(named[:20]))}{more})"
    if view.next_step and view.state != "succeeded":
        text += f". Next: {escape(for_chat(view.next_step))}"
    return text
