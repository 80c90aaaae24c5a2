"""The slash command listener: `/recycle TEXT` (and `/aspreset TEXT`). It acks at once, inside the
3 s Slack allows, with a short "Planning shop-web…" so the asker sees something, and does the work
after the ack on Bolt's listener executor (a lazy listener): parse and dispatch through the core,
then answer the asker ephemerally (bot/slack/asking.py: where the request's message is as soon as
it is posted, or why there is none). The request's own channel message comes from the Notifier,
which hears the request's events on this same thread."""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import Ack, App, Respond

from bot.app.views import HelpView
from bot.slack.asking import Asking
from bot.slack.context import working_for
from bot.slack.errors import answered
from bot.slack.frontend import SlackFrontEnd
from bot.slack.help import personal_help
from bot.slack.mrkdwn import escape, unescape
from bot.slack.requests_list import my_requests

log = structlog.get_logger("aspreset.slack.commands")

SLASH = re.compile(r"^/(recycle|aspreset)$")
READ_ONLY = {"plan": "Planning", "status": "Looking at"}


def ack_text(text: str, sites: set[str]) -> str | None:
    """What the asker sees at once: the site they named, when it is one (nothing for help, sites...)."""
    words = unescape(text).split()
    if len(words) >= 2 and words[0] in READ_ONLY and words[1] in sites:
        return f"{READ_ONLY[words[0]]} {escape(words[1])}…"
    if words and words[0] in sites:
        return f"Planning {escape(words[0])}…"
    if words and words[0] in ("approve", "deny", "cancel"):
        return "Working on it…"
    return None


def runs_restart(text: str, sites: set[str]) -> bool:
    """A request for a site or an approval: it may run a restart on this thread."""
    words = unescape(text).split()
    return bool(words) and (words[0] in sites or words[0] in ("recycle", "approve"))


def register(app: App, front: SlackFrontEnd) -> None:
    def ack_now(ack: Ack, command: dict[str, Any]) -> None:
        text = ack_text(str(command.get("text") or ""), set(front.service.inventory.sites))
        ack(text=text) if text else ack()

    def run(command: dict[str, Any], respond: Respond) -> None:
        if runs_restart(str(command.get("text") or ""), set(front.service.inventory.sites)):
            front.may_restart(answered(work), command, respond)
        else:
            work(command, respond)

    def work(command: dict[str, Any], respond: Respond) -> None:
        user, channel = str(command["user_id"]), str(command["channel_id"])
        # Slack escaped &, < and > in the text; the core holds what the person typed
        text = f"{command.get('command', '/recycle')} {unescape(str(command.get('text') or ''))}".strip()
        asking = Asking(respond, channel, user, channels=front.channels, links=front.message_link)
        principal = front.principal(user, channel)
        if text.split()[1:] == ["requests"]:  # mine and those waiting on me: this edge's own read
            asking.tell(my_requests(front.service, principal, front.message_link, front.channels))
            return
        with working_for(asking.origin):
            view = front.handle_text(text, principal, origin=f"slack:{channel}")
        if isinstance(view, HelpView):
            service = front.service
            view = view.model_copy(update={"text": personal_help(view, principal, service.policy, service.inventory,
                                                                 service.clock())})
        asking.finish(view)

    app.command(SLASH)(ack=ack_now, lazy=[answered(run)])
