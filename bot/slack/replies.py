"""Block Kit for the replies only the asker sees (ephemeral): a plan, status, the site list, help,
a refusal with its narrower alternative, an error (with its incident id when it was unexpected),
and the short note about a request. Rendered from the core's views alone, with a channel named
by `channels` (never a bare `<#C...>` id) and a request's message linked by `links` (its permalink)."""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_never

from bot.app.text import incidents_text
from bot.app.views import (
    AuditView,
    DecisionView,
    ErrorView,
    HelpView,
    HostStatusView,
    IncidentListView,
    LockHolderView,
    PlanView,
    RefusalView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
    View,
)
from bot.slack.blocks import Rendered, context, fit, mention, render_plan_lines, section, state_text, when
from bot.slack.channels import ChannelNames, channel_label
from bot.slack.mrkdwn import code, escape, for_chat
from bot.slack.permalinks import MessageLink, its_message, linked_id, where_note

Links = Callable[[str], MessageLink]  # request id -> where its channel message is

VERDICT = {"allow": ":white_check_mark: allowed", "needs_approval": ":hourglass: needs approval",
           "refuse": ":no_entry: refused"}


def render_reply(view: View, channels: ChannelNames | None = None, links: Links | None = None) -> Rendered:
    match view:
        case PlanView():
            return _plan(view)
        case RequestView():
            return _request(view, channels, links)
        case StatusView():
            return _status(view)
        case SiteListView():
            return _sites(view, channels)
        case RefusalView():
            return _refusal(view)
        case HelpView():
            return fit("aspreset help", [section(escape(view.text))])
        case ErrorView() if view.holder is not None:
            return _locked(view.holder, channels, links)
        case ErrorView():
            return _error(view)
        case RequestListView():
            lines = [_request(request, channels, links).text for request in view.root]
            return fit("requests", [section("\n".join(lines) or "No requests.")])
        case AuditView():
            lines = [f"{e.at:%Y-%m-%d %H:%M} {code(e.request_id)} {escape(e.actor_display)}: {escape(e.action)}"
                     for e in view.root]
            return fit("audit", [section("\n".join(lines) or "No audit events.")])
        case IncidentListView():
            return fit("incidents", [section(escape(incidents_text(view)))])
        case _:
            assert_never(view)


def decision_lines(decision: DecisionView) -> list[str]:
    verdict = VERDICT.get(decision.outcome, escape(decision.outcome))
    verdict += f" ({escape(decision.rule)})" if decision.rule else ""
    if decision.outcome == "needs_approval":
        verdict += " from " + (", ".join(mention(a) for a in decision.approvers) or "nobody")
    lines = [verdict, *(f"– {escape(r)}" for r in decision.reasons)]
    if decision.alternative:
        lines.append(f"Narrower, and does the job: *{escape(decision.alternative)}*")
    return lines


def _plan(view: PlanView) -> Rendered:
    head = f"*Plan for {escape(view.site)}*: *{escape(view.rung)}* ({escape(view.method)}) · nothing was run"
    blocks = [section(head), section("\n".join(render_plan_lines(view))),
              section("\n".join(decision_lines(view.decision)))]
    return fit(f"{escape(view.site)}: {escape(view.rung)} ({view.decision.outcome})", blocks)


def _refusal(view: RefusalView) -> Rendered:
    lines = [f":no_entry: *Refused: {escape(view.what)}*", *decision_lines(view.decision)[1:],
             escape(view.suggestion)]
    return fit(f"Refused: {escape(view.what)}", [section("\n".join(lines))])


def _error(view: ErrorView) -> Rendered:
    blocks = [section(f":warning: {escape(for_chat(view.message))}")]
    if view.incident:
        blocks.append(context(f"incident {code(view.incident)}: the bot's log has the details"))
    return fit(escape(for_chat(view.message)), blocks)


def _locked(holder: LockHolderView, channels: ChannelNames | None, links: Links | None) -> Rendered:
    """The pool is busy with another request: whose, linked to its message, and until when."""
    link = links(holder.request_id) if links is not None else None
    text = (f":lock: {escape(holder.host)} / {code(holder.pool)} is busy with {mention(holder.requester)}'s request "
            f"{linked_id(holder.request_id, link)}{where_note(link, channels)} since {when(holder.since)}")
    text += (f"; it waits for approval until {when(holder.until)}." if holder.until
             else "; it is running, and frees the pool when it ends.")
    return fit(f"{holder.host} / {holder.pool} is busy with request {holder.request_id}", [section(text)])


def _request(view: RequestView, channels: ChannelNames | None, links: Links | None = None) -> Rendered:
    """For the asker beside the channel message (linked), or instead of one when it was refused."""
    if view.state == "refused":
        decision = view.decision or (view.plan.decision if view.plan else None)
        lines = [f":no_entry: *{escape(view.site)}: {escape(view.rung)} refused*"]
        if decision is not None:
            lines += decision_lines(decision)[1:]
            if decision.alternative:
                lines.append(f"Try {code(f'/recycle {view.site} --scope {decision.alternative}')}")
        return fit(f"{escape(view.site)}: {escape(view.rung)} refused", [section("\n".join(lines))])
    text = f"{code(view.id)} {escape(view.site)}: {escape(view.rung)} restart is {state_text(view.state)}"
    if view.message:
        text += f". {escape(for_chat(view.message))}"
    if links is not None:  # where the message is (perhaps not the site's channel), or that there is none
        text += f" ({its_message(links(view.id), channels)})"
    elif view.plan is not None and view.plan.channel:
        text += f" (its message is in {channel_label(channels, view.plan.channel)})"
    return fit(text, [section(text)])


def _status(view: StatusView) -> Rendered:
    lines = [f"*{escape(view.site)}* (read-only)"] + [_status_line(h) for h in view.hosts]
    return fit(f"{escape(view.site)} status", [section("\n".join(lines))])


def _status_line(host: HostStatusView) -> str:
    if not host.ok:
        code_part = f" [{escape(host.error_code)}]" if host.error_code else ""
        return f":x: *{escape(host.host)}* {escape(for_chat(host.error or 'no answer'))}{code_part}"
    workers = escape(", ".join(str(w.get("pid")) for w in host.workers) or "none running")
    line = (f":large_green_circle: *{escape(host.host)}* pool {escape(host.pool_state or '?')} · "
            f"{escape(host.worker_process_name)} {workers}")
    if host.appdomain_id:
        line += f" · AppDomain {escape(host.appdomain_id)}"
    if host.app_offline:
        line += " · app_offline.htm present"
    return line


def _sites(view: SiteListView, channels: ChannelNames | None) -> Rendered:
    lines = [f"• *{escape(s.name)}* ({escape(s.environment)}): {escape(s.iis_site + s.app)}, pool {code(s.pool)} "
             f"on {escape(', '.join(s.hosts))}" + (f" · {channel_label(channels, s.channel)}" if s.channel else "")
             for s in view.sites]
    return fit("sites", [section("\n".join(lines) or "No sites in the inventory.")])
