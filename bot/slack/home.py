"""The App Home tab: what waits on my approval and my own recent requests, published when the
person opens the tab (`app_home_opened`, scope-free; the manifest enables the Home tab and
subscribes to the event). The same content as `/recycle requests`: each request's id links to its
channel message. Permalinks are kept once asked (bot/slack/permalinks.py), so opening the tab again
asks Slack only about requests it has not linked before."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.frontend import SlackFrontEnd
from bot.slack.requests_list import my_requests

log = structlog.get_logger("aspreset.slack.home")

MAX_HOME_BLOCKS = 100


def home_view(front: SlackFrontEnd, user: str) -> dict[str, Any]:
    rendered = my_requests(front.service, front.principal(user, None), front.message_link, front.channels)
    header = {"type": "header", "text": {"type": "plain_text", "text": "aspreset: restarts"}}
    hint = {"type": "context", "elements": [{"type": "mrkdwn", "text":
            "`/recycle help` shows what you may restart; `/recycle requests` shows this in any channel."}]}
    return {"type": "home", "blocks": [header, *rendered.blocks, hint][:MAX_HOME_BLOCKS]}


def register(app: App, front: SlackFrontEnd) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def publish(event: dict[str, Any], client: WebClient) -> None:
        """After the ack (the list is a store read, the view a Web API call): Slack retries an event
        it has no answer to within 3 s."""
        if event.get("tab") not in (None, "home"):
            return
        user = str(event["user"])
        client.views_publish(user_id=user, view=home_view(front, user))

    app.event("app_home_opened")(ack=ack_now, lazy=[publish])
