"""`/recycle requests`: what waits on me (requests I may approve) and my own recent requests, for
the person asking only. Read from the core's request list; nothing changes."""

from __future__ import annotations

from bot.app.service import Service
from bot.app.views import RequestView
from bot.slack.blocks import Rendered, fit, mention, section, state_text, when
from bot.slack.mrkdwn import code, escape
from policies.identity import Principal

SHOWN = 20  # of each kind


def waits_on(request: RequestView, principal: Principal) -> bool:
    return request.state == "awaiting_approval" and request.requester != principal.id and any(
        a == principal.id or (a.startswith("S") and a in principal.groups) for a in request.approvers)


def my_requests(service: Service, principal: Principal) -> Rendered:
    listed = service.list_requests(limit=500).root
    waiting = [r for r in listed if waits_on(r, principal)][:SHOWN]
    mine = [r for r in listed if r.requester == principal.id][:SHOWN]
    lines = ["*Waiting on you:*"] + [
        f"• {code(r.id)} {escape(r.site)}: {escape(r.rung)} asked by {mention(r.requester)}, expires "
        f"{when(r.expires_at)}" for r in waiting]
    if not waiting:
        lines.append("nothing")
    lines += ["", "*Yours, newest first:*"] + [
        f"• {code(r.id)} {escape(r.site)}: {escape(r.rung)} · {state_text(r.state)} · {when(r.created_at)}"
        for r in mine]
    if not mine:
        lines.append("none yet")
    return fit("your requests", [section("\n".join(lines))])
