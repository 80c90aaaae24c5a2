"""Deny with a reason: the Deny button opens a modal (views.open, while the click's trigger_id is
fresh) asking why, optionally; submitting it denies the request through the core, and the message
and the requester's thread reply show the reason. A reason with a newline or control character is
refused in the modal itself, before anything changes."""

from __future__ import annotations

import json
from typing import Any

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.app.views import RequestView
from bot.slack.context import SlackOrigin, working_for
from bot.slack.frontend import SlackFrontEnd
from bot.slack.mrkdwn import code, escape
from bot.slack.replies import render_reply
from commands.limits import LimitExceeded, check_reason
from commands.model import Deny

log = structlog.get_logger("aspreset.slack.deny")

CALLBACK = "aspreset.deny_modal"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"


def deny_modal(request_id: str, site: str, channel: str | None, message_ts: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "private_metadata": json.dumps({"request": request_id, "channel": channel, "ts": message_ts}),
        "title": {"type": "plain_text", "text": "Deny the restart"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": f"Deny {code(request_id)} ({escape(site)})? Nothing will run."}},
            {"type": "input", "block_id": REASON_BLOCK, "optional": True,
             "label": {"type": "plain_text", "text": "Why (the requester sees it)"},
             "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "max_length": 500}},
        ],
    }


def open_deny_modal(client: WebClient, trigger_id: str, request_id: str, site: str, channel: str | None,
                    message_ts: str | None) -> None:
    client.views_open(trigger_id=trigger_id, view=deny_modal(request_id, site, channel, message_ts))


def register(app: App, front: SlackFrontEnd) -> None:
    def check_reason_then_ack(ack: Ack, view: dict[str, Any]) -> None:
        try:
            check_reason(_reason(view), "the reason")
        except LimitExceeded as error:
            ack(response_action="errors", errors={REASON_BLOCK: error.message})
            return
        ack()

    def deny(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        request_id, channel, ts = str(meta.get("request") or ""), meta.get("channel"), meta.get("ts")
        user = str(body["user"]["id"])
        if channel and ts:
            front.notifier.bind(request_id, channel, ts)
        origin = SlackOrigin(channel=channel, user=user, message_ts=ts)
        with working_for(origin):
            result = front.dispatch(Deny(request_id, _reason(view)), front.principal(user, channel),
                                    f"slack:{channel}")
        if isinstance(result, RequestView) and origin.heard:
            return  # the message and its thread say it
        if channel:  # a modal has no response_url: the denier hears it in the channel, alone
            rendered = render_reply(result, front.channels, front.message_link)
            client.chat_postEphemeral(channel=channel, user=user, text=rendered.text, blocks=rendered.blocks)

    app.view(CALLBACK)(ack=check_reason_then_ack, lazy=[deny])


def _reason(view: dict[str, Any]) -> str | None:
    values = ((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}
    text = (values.get(REASON_INPUT) or {}).get("value")
    return str(text).strip() or None if text is not None else None
