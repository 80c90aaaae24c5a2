"""`/recycle requests` (without a site or state): what waits on me (requests I may approve) and my
own recent requests, for the person asking only; the App Home tab shows the same. Each request's id
links to its channel message (its permalink, asked once per process and kept), or says where the
message is, or that it has none. Read from the core's request list; nothing changes."""

from __future__ import annotations

from bot.app.service import Service
from bot.app.views import RequestView
from bot.slack.blocks import Rendered, fit, mention, section, state_text, when
from bot.slack.channels import ChannelNames
from bot.slack.mrkdwn import escape
from bot.slack.permalinks import linked_id, where_note
from bot.slack.replies import Links
from policies.identity import Principal

SHOWN = 20  # of each kind


def waits_on(request: RequestView, principal: Principal) -> bool:
    return request.state == "awaiting_approval" and request.requester != principal.id and any(
        a == principal.id or (a.startswith("S") and a in principal.groups) for a in request.approvers)


def my_requests(service: Service, principal: Principal, links: Links | None = None,
                channels: ChannelNames | None = None) -> Rendered:
    listed = service.list_requests(limit=500).root
    waiting = [r for r in listed if waits_on(r, principal)][:SHOWN]
    mine = [r for r in listed if r.requester == principal.id][:SHOWN]

    def line(r: RequestView, what: str) -> str:
        link = links(r.id) if links is not None and r.state != "refused" else None  # a refusal has no message
        return f"• {linked_id(r.id, link)} {escape(r.site)}: {escape(r.rung)} {what}{where_note(link, channels)}"

    lines = ["*Waiting on you:*"] + [
        line(r, f"asked by {mention(r.requester)}, expires {when(r.expires_at)}") for r in waiting]
    if not waiting:
        lines.append("nothing")
    lines += ["", "*Yours, newest first:*"] + [
        line(r, f"· {state_text(r.state)} · {when(r.created_at)}") for r in mine]
    if not mine:
        lines.append("none yet")
    return fit("your requests", [section("\n".join(lines))])
