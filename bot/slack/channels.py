"""Channels named the way people know them. A reply never shows a bare `<#C...>` id (Slack draws it
as "private channel" for whoever is not a member, and not at all in a notification): it names the
channel (`#shop-web`) from conversations.info (scopes channels:read, groups:read), asked once an
hour per channel, or, when Slack will not say (the channel is gone, private without the bot, or the
scopes are missing), gives the id in code, as the inventory writes it: what whoever fixes the
setting needs. `channel_name` is the core's ChannelNames port (MCP names
the channel through it too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.mrkdwn import code, escape

log = structlog.get_logger("aspreset.slack.channels")

KEEP_S = 3600.0  # a channel is renamed rarely; a name an hour old is still the one people know
KEEP_UNKNOWN_S = 300.0  # nor are scopes added often: ask again after five minutes


class ChannelNames:
    def __init__(self, client: WebClient | None, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str | None, float]] = {}  # id -> (name or None, until when)

    def channel_name(self, channel_id: str) -> str | None:
        """The channel's name without '#', or None when Slack does not tell it."""
        now = self._monotonic()
        with self._lock:
            known = self._known.get(channel_id)
        if known is not None and known[1] > now:
            return known[0]
        name = self._ask(channel_id)
        with self._lock:
            self._known[channel_id] = (name, now + (KEEP_S if name else KEEP_UNKNOWN_S))
        return name

    def _ask(self, channel_id: str) -> str | None:
        if self._client is None or not channel_id:
            return None
        try:
            answer = self._client.conversations_info(channel=channel_id)
        except SlackApiError as error:
            log.info("slack_channel_name_unknown", channel=channel_id, error=error.response.get("error"))
            return None
        except Exception as error:  # Slack unreachable: the reply falls back to the site's channel
            log.info("slack_channel_name_unknown", channel=channel_id, error=type(error).__name__)
            return None
        name = (answer.get("channel") or {}).get("name")
        return str(name) if name else None


def channel_label(names: ChannelNames | None, channel_id: str) -> str:
    """`#shop-web`, or `the channel `C0SHOP`` when its name is not known (mrkdwn, escaped)."""
    name = names.channel_name(channel_id) if names is not None else None
    return f"#{escape(name)}" if name else f"the channel {code(channel_id)}"
