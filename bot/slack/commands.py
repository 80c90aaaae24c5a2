"""The slash command listener: `/recycle TEXT` (and `/aspreset TEXT`). It acks at once, inside the
3 s Slack allows, and does the work after the ack on Bolt's listener executor (a lazy listener):
parse and dispatch through the core, then answer the asker ephemerally. The request's own channel
message comes from the Notifier, which hears the request's events on this same thread."""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import Ack, App, Respond

from bot.app.views import HelpView, RequestView
from bot.slack.context import SlackOrigin, working_for
from bot.slack.frontend import SlackFrontEnd
from bot.slack.help import personal_help
from bot.slack.replies import render_reply

log = structlog.get_logger("aspreset.slack.commands")

SLASH = re.compile(r"^/(recycle|aspreset)$")


def register(app: App, front: SlackFrontEnd) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def run(command: dict[str, Any], respond: Respond) -> None:
        user, channel = str(command["user_id"]), str(command["channel_id"])
        text = f"{command.get('command', '/recycle')} {command.get('text', '')}".strip()
        origin = SlackOrigin(channel=channel, user=user)
        principal = front.principal(user, channel)
        with working_for(origin):
            view = front.handle_text(text, principal, origin=f"slack:{channel}")
        if isinstance(view, RequestView) and _posted_here(front, view, channel):
            return  # the channel message the asker is looking at says it all
        if isinstance(view, HelpView):
            service = front.service
            view = view.model_copy(update={"text": personal_help(view, principal, service.policy, service.inventory,
                                                                 service.clock())})
        rendered = render_reply(view)
        respond(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral", replace_original=False)

    app.command(SLASH)(ack=ack_now, lazy=[run])


def _posted_here(front: SlackFrontEnd, view: RequestView, channel: str) -> bool:
    where = front.notifier.message_of(view.id)
    return where is not None and where[0] == channel and view.state != "refused"
