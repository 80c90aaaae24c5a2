"""Links to requests' channel messages, for every reply that speaks of a request: the permalink
Slack gives for the channel and `ts` the store holds (`chat.getPermalink`, no scope needed).

Slack's page for the method (docs/slack-api-behaviour.md) puts it under special rate limits,
"hundreds of requests per minute", 429 past them, and lists two errors: `channel_not_found` and
`message_not_found` (the message was deleted). A message's permalink never changes, so each is
asked once per process and kept (the newest `KEEP` of them); a message Slack says is not found is
kept as deleted. Anything else (`channel_not_found`, which a re-invited bot may no longer get,
Slack away, a 429 still there after the client's retries) is not kept: that reply names the
channel instead, and the next one asks again. Kept in memory, not in the store: a
replica that never saw the message asks once itself, which costs one call, not a migration."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.channels import ChannelNames, channel_label
from bot.slack.mrkdwn import code, escape, web_url

log = structlog.get_logger("aspreset.slack.permalinks")

KEEP = 5000  # messages; a permalink is about 80 characters
DELETED = "message_not_found"  # Slack will not find it again


@dataclass(frozen=True)
class MessageLink:
    """Where a request's channel message is, as far as a reply can tell."""

    channel: str | None  # None: the request has no channel message (refused, never posted, or posting failed)
    url: str | None = None  # its permalink; None when Slack gave none (deleted, or not reachable now)
    gone: bool = False  # Slack says the message was deleted


class Permalinks:
    def __init__(self, client: WebClient, message_of: Callable[[str], tuple[str, str | None] | None],
                 keep: int = KEEP) -> None:
        self._client = client  # a retrying client: a 429 is waited out (bot.slack.pacing)
        self._message_of = message_of  # request id -> (channel, ts), from memory or the store
        self._keep = keep
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[str, str], str | None] = OrderedDict()  # None: gone

    def of_message(self, channel: str, ts: str) -> MessageLink:
        key = (channel, ts)
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                known = self._known[key]
                return MessageLink(channel, known, gone=known is None)
        try:
            url = str(self._client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as error:
            code_ = str(error.response.get("error") or f"http_{error.response.status_code}")
            log.info("slack_permalink_failed", channel=channel, ts=ts, error=code_)
            if code_ == DELETED:
                with self._lock:
                    self._keep_one(key, None)
            return MessageLink(channel, gone=code_ == DELETED)
        except Exception as error:  # Slack unreachable: name the channel this time, ask again next time
            log.info("slack_permalink_failed", channel=channel, ts=ts, error=type(error).__name__)
            return MessageLink(channel)
        with self._lock:
            self._keep_one(key, url)
        return MessageLink(channel, url)

    def of_request(self, request_id: str) -> MessageLink:
        where = self._message_of(request_id)
        if where is None:
            return MessageLink(None)
        channel, ts = where
        if ts is None:  # being posted right now
            return MessageLink(channel)
        return self.of_message(channel, ts)

    def _keep_one(self, key: tuple[str, str], url: str | None) -> None:
        self._known[key] = url
        self._known.move_to_end(key)
        while len(self._known) > self._keep:
            self._known.popitem(last=False)


def linked_id(request_id: str, link: MessageLink | None) -> str:
    """The request's id as a link to its message, or in code when there is no link."""
    url = web_url(link.url) if link is not None else None
    return f"<{url}|{escape(request_id)}>" if url else code(request_id)


def where_note(link: MessageLink | None, channels: ChannelNames | None) -> str:
    """What a listed request's id cannot say by its link: where its message is, or that it has none."""
    if link is None or (link.url and web_url(link.url)):
        return ""
    if link.channel is None:
        return " (no channel message)"
    if link.gone:
        return f" (its message in {channel_label(channels, link.channel)} was deleted)"
    return f" (its message is in {channel_label(channels, link.channel)})"


def its_message(link: MessageLink | None, channels: ChannelNames | None, label: str = "its message") -> str:
    """`<permalink|its message>`, else `its message in #shop-web`, else that there is none."""
    url = web_url(link.url) if link is not None else None
    if url:
        return f"<{url}|{escape(label)}>"
    if link is None or link.channel is None:
        return "no channel message"
    if link.gone:
        return f"{label} in {channel_label(channels, link.channel)}, since deleted"
    return f"{label} in {channel_label(channels, link.channel)}"
