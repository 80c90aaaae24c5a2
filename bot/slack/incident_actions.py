"""The button on an incident's message: the clicker asks for the offered restart, exactly as if they
had typed it (`/recycle SITE --reason hung --host HOST`): a request by them, planned and decided by
the usual policy (a worker kill waits for a second person), through the same dispatch as every other
request; its message goes in the incident's thread. A click on an incident that has recovered, or
that offers nothing any more, runs nothing and says why."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.app.watch.classify import Kind
from bot.app.watch.incidents import IncidentStore
from bot.app.watch.offers import offer_for
from bot.slack.asking import Asking
from bot.slack.context import working_for
from bot.slack.errors import answered
from bot.slack.frontend import SlackFrontEnd
from bot.slack.incident_blocks import INCIDENT_RESTART, read_button_value
from bot.slack.mrkdwn import code, escape


def register(app: App, front: SlackFrontEnd, incidents: IncidentStore) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def on_restart(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        user = str(body["user"]["id"])
        container = body.get("container") or {}
        channel, message_ts = container.get("channel_id"), container.get("message_ts")
        try:
            incident = incidents.get_incident(read_button_value(str(action.get("value") or "")))
        except (ValueError, KeyError, TypeError):
            incident = None
        if incident is None or not incident.is_open:
            what = code(incident.id) if incident else "This incident"
            _tell(respond, f"{what} has recovered or is not known here: nothing was run.")
            return
        offer = offer_for(Kind(incident.kind), incident.site, incident.host, front.service.inventory,
                          front.service.policy)
        if offer.request is None:
            _tell(respond, f"{code(incident.id)}: {escape(offer.why)}. Nothing was run.")
            return
        asking = Asking(respond, channel, user, thread_ts=message_ts, channels=front.channels,
                        links=front.message_link)  # the request's message: in the thread
        with working_for(asking.origin):
            view = front.dispatch(offer.request, front.principal(user, channel), f"slack:{channel}")
        asking.finish(view)

    def restart(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        front.may_restart(answered(on_restart), body, action, respond)

    app.action(INCIDENT_RESTART)(ack=ack_now, lazy=[answered(restart)])


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
