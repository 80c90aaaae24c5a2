"""An incident's one channel message: what was seen on which host, since when, the evidence, and the
narrowest restart offered, with a button that asks for it (the clicker's request, under the usual
policy and approvals). Once it recovered, the message says so and the button goes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.app.watch.classify import Kind
from bot.app.watch.incidents import Incident
from bot.app.watch.offers import Offer
from bot.slack.blocks import Rendered, button, context, fit, section, when
from bot.slack.deploy_notice import RUNG_WORDS
from bot.slack.mrkdwn import code, escape
from bot.slack.permalinks import MessageLink, linked_id

INCIDENT_RESTART = "aspreset.incident_restart"
EMOJI = {Kind.HUNG: ":hourglass:", Kind.POOL_STOPPED: ":no_entry:", Kind.FAILING: ":x:", Kind.MEMORY: ":chart:",
         Kind.SLOW: ":snail:", Kind.RESTARTED: ":repeat:", Kind.UNREACHABLE: ":electric_plug:"}


def button_value(incident: Incident) -> str:
    return json.dumps({"incident": incident.id, "site": incident.site, "host": incident.host})


def read_button_value(value: str) -> str:
    """The incident id the button belongs to."""
    data: dict[str, Any] = json.loads(value)
    return str(data["incident"])


def render_incident(incident: Incident, offer: Offer, links: Callable[[str], MessageLink] | None = None) -> Rendered:
    """`links`: where a request's message is, to link the one that it recovered after."""
    kind = Kind(incident.kind)
    what = f"*{escape(incident.site)}* on *{escape(incident.host)}*: {kind.label}"
    if not incident.is_open:
        link = links(incident.recovered_by) if links is not None and incident.recovered_by else None
        return _recovered(incident, kind, what, link)
    text = f"{incident.site} on {incident.host}: {kind.label} since {incident.opened_at:%H:%M UTC}"
    blocks: list[dict[str, Any]] = [
        section(f"{EMOJI[kind]} {what} since {when(incident.opened_at)} ({incident.probes} bad probes in a row)"),
        section(f"*Seen:* {escape(incident.evidence)}"
                + (f"\n*First:* {escape(incident.first_evidence)}" if incident.first_evidence != incident.evidence
                   else "")),
    ]
    if offer.rung is not None:
        words = RUNG_WORDS.get(offer.rung, offer.rung.value)
        blocks.append(section(f"*Narrowest restart:* {escape(offer.rung.value)} on {escape(incident.host)}: "
                              f"{escape(offer.why)}"))
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}",
                       "elements": [button(f"{words} on {incident.host}", INCIDENT_RESTART, button_value(incident),
                                           style="danger" if offer.rung.value == "worker" else "primary")]})
    else:
        blocks.append(section(escape(offer.why)))
    blocks.append(context(f"{code(incident.id)} · last probe {when(incident.updated_at, '{time}')} · "
                          "this message is updated until it recovers"))
    return fit(text, blocks)


def _recovered(incident: Incident, kind: Kind, what: str, link: MessageLink | None) -> Rendered:
    by = f" after request {linked_id(incident.recovered_by, link)}" if incident.recovered_by else " on its own"
    text = f"Recovered: {incident.site} on {incident.host} ({kind.label})"
    if incident.recovered_by:
        text += f", recovered by request {incident.recovered_by}"
    return fit(text, [
        section(f":white_check_mark: {what}, recovered{by} {when(incident.closed_at)}"),
        context(f"{code(incident.id)} · seen from {when(incident.opened_at)} in {incident.probes} bad probe(s) · "
                f"first: {escape(incident.first_evidence)} · last: {escape(incident.evidence)}"),
    ])
