"""Telling the person who asked, through the `respond()` of their slash command or click (it works
in any channel and in DMs), where their request's channel message is, or that Slack refused it and
how to fix that. The reply goes as soon as the message is posted (or refused), while an allowed
restart is still running; after the core returns, the asker hears the result only when they cannot
see it in the channel they typed in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from bot.app.records import FINAL_STATES
from bot.app.views import RequestView, View
from bot.slack.blocks import Rendered, mention, section, state_text, when
from bot.slack.channels import ChannelNames, channel_label
from bot.slack.context import PostOutcome, SlackOrigin
from bot.slack.mrkdwn import code, escape
from bot.slack.replies import Links, render_reply

POST_WAIT_S = 10.0  # how long the listener waits for the message's post once the core returned
# Slack takes up to five replies through one response_url, within 30 minutes of the command or click
# (docs/slack-api-behaviour.md); a little margin, so a reply never meets a URL that just expired
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 29 * 60

log = structlog.get_logger(__name__)

HOW_TO_FIX = {
    "not_in_channel": "the bot is not in {channel}: `/invite @aspreset` there (or set the site's `channel` "
                      "in the inventory to a channel it is in)",
    "channel_not_found": "Slack does not know {channel}, or it is private and the bot is not in it: "
                         "`/invite @aspreset` there, or set the site's `channel` in the inventory",
    "is_archived": "{channel} is archived: unarchive it, or set the site's `channel` in the inventory to another",
}


def why_not_posted(channel: str, error: str, channels: ChannelNames | None = None) -> str:
    where = channel_label(channels, channel)
    fix = HOW_TO_FIX.get(error, "Slack answered `{error}`; the bot's log has the details").format(
        channel=where, error=escape(error))
    return f"Slack refused the message in {where} (`{escape(error)}`): {fix}."


class Asking:
    """One request asked through Slack by one person."""

    def __init__(self, respond: Callable[..., Any], channel: str | None, user: str, thread_ts: str | None = None,
                 channels: ChannelNames | None = None, clock: Callable[[], float] = time.monotonic,
                 links: Links | None = None, on_request: Callable[[RequestView], None] | None = None) -> None:
        self._respond = respond
        self._links = links  # a reply about a request links to its message
        self._on_request = on_request  # told first, once the request exists and its message was posted or refused
        self._clock = clock
        self._since = clock()
        self._uses = 0
        self._channels = channels
        self._channel = channel
        self._posted = threading.Event()
        self.outcome: PostOutcome | None = None
        self.origin = SlackOrigin(channel=channel, user=user, thread_ts=thread_ts, on_posted=self.on_posted)

    def tell(self, rendered: Rendered) -> None:
        parts = [(rendered.text, rendered.blocks), *((rest, [section(rest)]) for rest in rendered.overflow)]
        for text, blocks in parts:  # an ephemeral reply has no thread: the rest follows, while the URL takes it
            if not self._reply(text, blocks):
                return

    def _reply(self, text: str, blocks: list[Any]) -> bool:
        """One reply through respond(), unless its response_url expired or is used up: a long run's end is
        then on the request's channel message and thread, never sent to a URL Slack no longer takes."""
        if self._uses >= RESPONSE_URL_USES or self._clock() - self._since > RESPONSE_URL_TTL_S:
            log.warning("slack_reply_not_sent", reason="response_url expired or used up", uses=self._uses)
            return False
        self._uses += 1
        self._respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return True

    def on_posted(self, view: RequestView, outcome: PostOutcome) -> None:
        """The request's message was posted, or refused: say so at once."""
        if self._on_request is not None:
            self._on_request(view)
        self.tell(_where_it_is(view, outcome, self._channels))
        self.outcome = outcome
        self._posted.set()

    def finish(self, view: View) -> None:
        """The core returned (for an allowed restart: after it ran)."""
        if not isinstance(view, RequestView) or view.state == "refused":
            self.tell(render_reply(view, self._channels, self._links))
            return
        if view.id not in self.origin.posting:  # the request already had its message (e.g. an approve)
            self.tell(render_reply(view, self._channels, self._links))
            return
        if not self._posted.wait(POST_WAIT_S) or self.outcome is None:
            self.tell(render_reply(view, self._channels, self._links))  # no message (yet): the asker hears it here
            return
        seen_here = self.outcome.ts is not None and self.outcome.channel == self._channel
        if view.state in FINAL_STATES and not seen_here:
            self.tell(render_reply(view, self._channels, self._links))


def _where_it_is(view: RequestView, outcome: PostOutcome, channels: ChannelNames | None) -> Rendered:
    head = f"{code(view.id)} {escape(view.site)}: {escape(view.rung)} restart is {state_text(view.state)}"
    lines: list[str] = []
    if outcome.ts is None:
        lines.append(f":warning: {head}, but it has no channel message. "
                     + why_not_posted(outcome.channel, outcome.error or "unknown", channels))
        if outcome.refused_by is not None:
            lines.append(why_not_posted(*outcome.refused_by, channels))
        if view.state == "awaiting_approval":
            lines.append(f"*Nobody was asked to approve it*: its approvers cannot see it. It expires "
                         f"{when(view.expires_at)}; cancel it with `/recycle deny {escape(view.id)}` and ask again "
                         "once the bot can post.")
        elif view.state in ("running", "approved"):
            lines.append("It runs anyway; you will hear the result here.")
    else:
        where = (f"<{outcome.permalink}|its message>" if outcome.permalink
                 else f"its message in {channel_label(channels, outcome.channel)}")
        if view.state == "awaiting_approval":
            head += f" from {', '.join(mention(a) for a in view.approvers) or 'nobody'}"
        lines.append(f"{head}: {where}.")
        if outcome.refused_by is not None:
            lines.append(f"It went to {channel_label(channels, outcome.channel)} instead of the site's channel. "
                         + why_not_posted(*outcome.refused_by, channels))
    text = "\n".join(lines)
    return Rendered(text, [section(text)])

