"""Button listeners (`block_actions`): Approve, Deny (a modal asking why, bot/slack/deny_modal.py) and
the requester's Cancel on a request's message, and the deploy notice's run button. Each acks at once
and works after the ack. The click is checked by the core (policy, never the requester) and claimed
atomically by the store, so a click that arrives twice, or on the replica that did not post the
message, runs at most once; a click that changed nothing is told, ephemerally, that it was already
handled. The clicked message is the request's message from then on, on whichever replica took the
click."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.app.deploy import follow_up_request
from bot.app.errors import UnknownRequest
from bot.app.views import RequestView
from bot.slack.asking import Asking
from bot.slack.blocks import APPROVE, CANCEL, DENY, DEPLOY_RUN, RETRY, STATUS, state_text
from bot.slack.context import SlackOrigin, working_for
from bot.slack.deny_modal import open_deny_modal
from bot.slack.deploy_notice import read_button_value
from bot.slack.errors import answered
from bot.slack.frontend import SlackFrontEnd
from bot.slack.mrkdwn import code
from bot.slack.permalinks import its_message
from bot.slack.replies import render_reply
from commands.model import Approve, Cancel, Status

log = structlog.get_logger("aspreset.slack.actions")

def register(app: App, front: SlackFrontEnd) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def ack_and_ask_why(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                        respond: Respond) -> None:
        """Deny opens the modal at once (its trigger_id is good for 3 s); the denial comes on submit."""
        ack()
        _, channel, message_ts = _where(body)
        request_id = str(action.get("value") or "")
        mismatch = _not_this_message(front, request_id, action, channel, message_ts)
        if mismatch:
            _tell(respond, mismatch)
            return
        site = front.service.store.get(request_id).site
        open_deny_modal(client, str(body.get("trigger_id") or ""), request_id, site, channel, message_ts)

    def on_decision(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        user, channel, message_ts = _where(body)
        request_id = str(action.get("value") or "")
        mismatch = _not_this_message(front, request_id, action, channel, message_ts)
        if mismatch:  # nothing is bound, approved or updated
            _tell(respond, mismatch)
            return
        if channel and message_ts:
            front.notifier.bind(request_id, channel, message_ts)
        command = Approve(request_id) if action["action_id"] == APPROVE else Cancel(request_id)
        origin = SlackOrigin(channel=channel, user=user, message_ts=message_ts)
        with working_for(origin):
            view = front.dispatch(command, front.principal(user, channel), f"slack:{channel}")
        if not isinstance(view, RequestView):
            rendered = render_reply(view, front.channels, front.message_link)
            _tell(respond, rendered.text, rendered.blocks)
            return
        if _already_handled(command, view, origin.heard):
            # the message shows the truth (e.g. expired: no buttons); the requester hears of expiry once
            told = view.state == "expired" and front.notifier.first_to_show(request_id, view.state)
            front.notifier.show(request_id, view, follow_up=told)
            if view.state == "expired":
                _tell(respond, f"{code(request_id)} expired before this click: nothing was run. "
                               f"Ask again with {code(f'/recycle {view.site} ...')}")
            else:
                _tell(respond, f"{code(request_id)} was already handled: it is {state_text(view.state)}. "
                               "Nothing more was run.")

    def on_deploy_run(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        """The store says whether the button is still offered (a click on another replica, or the
        sweeper, may have taken it), not the message the click came with."""
        user, channel, message_ts = _where(body)
        try:
            site, changed, version = read_button_value(str(action.get("value") or ""))
        except (ValueError, KeyError, TypeError):
            _tell(respond, "This button is not one of aspreset's deploy notices; nothing was run.")
            return
        if front.notices is None or not channel or not message_ts:
            _tell(respond, "This deploy notice's button cannot be used here; nothing was run.")
            return
        refusal = front.notices.take_button(channel, message_ts, user, site)
        if refusal is not None:
            _tell(respond, refusal)
            return
        # the restart goes in the notice's thread
        notices = front.notices
        asking = Asking(respond, channel, user, thread_ts=message_ts, channels=front.channels,
                        links=front.message_link, on_request=lambda made: notices.started(channel, message_ts, made.id))
        try:
            with working_for(asking.origin):
                view = front.dispatch(follow_up_request(site, changed, version), front.principal(user, channel),
                                      f"slack:{channel}")
        except BaseException:
            front.notices.ran(channel, message_ts, user, None)  # it started nothing: the button is offered again
            raise
        front.notices.ran(channel, message_ts, user, view)  # what it started, on the notice
        asking.finish(view)

    def on_retry(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        """Every failed host again, and only those, as one new request by the clicker under the same
        policy (and its approvals, which the same rung needs again); its message goes in the failed
        run's thread and its reason names the run it retries."""
        user, channel, message_ts = _where(body)
        request_id = str(action.get("value") or "")
        mismatch = _not_this_message(front, request_id, action, channel, message_ts)
        if mismatch:
            _tell(respond, mismatch)
            return
        retry = front.service.get_request(request_id).retry
        if not retry:
            _tell(respond, f"{code(request_id)} has no failed host to retry; nothing was run.")
            return
        asking = Asking(respond, channel, user, thread_ts=message_ts, channels=front.channels,
                        links=front.message_link)
        with working_for(asking.origin):
            view = front.handle_text(f"/recycle {retry} --note 'retry of {request_id}'", front.principal(user, channel),
                                     f"slack:{channel}")
        asking.finish(view)

    def on_status(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        user, channel, _ = _where(body)
        view = front.dispatch(Status(str(action.get("value") or "")), front.principal(user, channel),
                              f"slack:{channel}")
        rendered = render_reply(view, front.channels)
        _tell(respond, rendered.text, rendered.blocks)

    def retry(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        front.may_restart(answered(on_retry), body, action, respond)

    def approve(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        front.may_restart(answered(on_decision), body, action, respond)

    def deploy_run(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        front.may_restart(answered(on_deploy_run), body, action, respond)

    app.action(APPROVE)(ack=ack_now, lazy=[answered(approve)])
    app.action(CANCEL)(ack=ack_now, lazy=[answered(on_decision)])  # the core lets only the requester cancel
    app.action(DENY)(ack_and_ask_why)
    app.action(DEPLOY_RUN)(ack=ack_now, lazy=[answered(deploy_run)])
    app.action(RETRY)(ack=ack_now, lazy=[answered(retry)])
    app.action(STATUS)(ack=ack_now, lazy=[answered(on_status)])


def _already_handled(command: Approve | Cancel, view: RequestView, heard: list[str]) -> bool:
    """The click changed nothing, or only what another delivery of it finished: someone (or this
    click, sent twice) got there first. An approval that made the request approved but lost the run
    to the same click delivered to another replica (which then read it approved and ran it) heard
    `approved` and nothing more: its clicker is told too, not left without a word."""
    if not heard:
        return True
    return isinstance(command, Approve) and not view.ran_now and view.state != "awaiting_approval"


def _not_this_message(front: SlackFrontEnd, request_id: str, action: dict[str, Any], channel: str | None,
                      message_ts: str | None) -> str | None:
    """Why this click cannot be about `request_id`, or None: no such request, or the button is on
    another request's message (its block says which request it belongs to)."""
    try:
        front.service.store.get(request_id)
    except UnknownRequest:
        return f"There is no request {code(request_id)} here; nothing was changed. `/recycle requests` lists yours."
    block = str(action.get("block_id") or "")
    known = front.notifier.message_of(request_id)
    kind = block.split(":", 1)[0]
    on_other = kind in ("approval", "failed") and block != f"{kind}:{request_id}"
    if on_other or (known is not None and known[1] is not None and (channel, message_ts) != known):
        return (f"This button is not on {code(request_id)}'s message; nothing was changed. Use the buttons "
                f"on that request's own message: {its_message(front.message_link(request_id), front.channels)}.")
    return None


def _where(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return str(body["user"]["id"]), channel, message_ts


def _tell(respond: Respond, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Only the clicker sees it; the original message stays."""
    respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

