"""Approvers who are not in the channel of a waiting request's message would never see it: each
such approver the policy names by user ID gets a direct message with a link to the message
(chat.getPermalink). Membership comes from conversations.members (scopes channels:read and
groups:read), the DM from conversations.open (im:write). Without those scopes the bot says so in
its log once and DMs nobody; the request still waits in its channel. User groups (S...) are not
expanded here: their members are told by Slack's own group mention in the message."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.views import RequestView
from bot.slack.blocks import mention, section, when
from bot.slack.channels import ChannelNames, channel_label
from bot.slack.mrkdwn import code, escape
from bot.slack.pacing import MethodBuckets

if TYPE_CHECKING:
    from bot.slack.permalinks import Permalinks

log = structlog.get_logger("aspreset.slack.approver_dms")

MAX_MEMBERS_PAGES = 20  # 200 members a page: a 4000-member channel is as far as we look


class ApproverDMs:
    def __init__(self, client: WebClient, buckets: MethodBuckets | None = None,
                 channels: ChannelNames | None = None) -> None:
        self._client = client
        self._channels = channels
        self._buckets = buckets or MethodBuckets()
        self._lock = threading.Lock()
        self._warned = False

    def tell(self, view: RequestView, channel: str, ts: str, permalinks: Permalinks | None = None) -> list[str]:
        """DM the approvers of `view` (waiting on its message at channel/ts) who are not members of
        the channel; returns whom it told. `permalinks`: the process's kept links (one call per message)."""
        users = [a for a in view.approvers if a.startswith(("U", "W")) and a != view.requester]
        if not users:
            return []
        members = self._members(channel)
        if members is None:
            return []
        away = [u for u in users if u not in members]
        if not away:
            return []
        link = permalinks.of_message(channel, ts).url if permalinks is not None else self._permalink(channel, ts)
        text = (f"{mention(view.requester)} asks for {escape(view.site)}: {escape(view.rung)} restart "
                f"{code(view.id)}, and you are among its approvers. You are not in "
                f"{channel_label(self._channels, channel)}, where "
                f"it waits: {f'<{link}|open the request>' if link else 'look there'}. It expires "
                f"{when(view.expires_at)}.")
        told = []
        for user in away:
            try:
                opened = self._client.conversations_open(users=user)
                self._buckets.acquire("chat.postMessage")
                self._client.chat_postMessage(channel=str(opened["channel"]["id"]), text=text,
                                              blocks=[section(text)])
                told.append(user)
            except SlackApiError as error:
                log.warning("approver_dm_failed", request_id=view.id, user=user, error=error.response.get("error"))
        return told

    def _members(self, channel: str) -> set[str] | None:
        members: set[str] = set()
        cursor = None
        try:
            for _ in range(MAX_MEMBERS_PAGES):
                answer = self._client.conversations_members(channel=channel, limit=200, cursor=cursor)
                members.update(str(m) for m in answer.get("members") or [])
                cursor = (answer.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as error:
            with self._lock:
                first, self._warned = not self._warned, True
            if first:
                log.warning("approver_dms_off", error=error.response.get("error"),
                            hint="add channels:read, groups:read and im:write (docs/slack-setup.md)")
            return None
        return members

    def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError:
            return None
