"""Deploy notices kept honest after they are posted. Each notice is recorded in the store (what it
said, without its button), and its button is taken once across replicas: by the first click, which
runs the restart, or by the expiry sweeper once the notice is older than a day (the deploy it
speaks of is likely no longer the running one). The message is then rebuilt from the record, never
from what Slack sent with a click (the sweeper has no click): who used the button, when, and a link
to the request's message with how it ended; or that it is too old. A later click is answered only
to the clicker, and runs nothing.

The link is the request message's permalink, asked of Slack once per process (bot/slack/permalinks.py).
Every call goes through the paced client that waits out a 429's Retry-After (bot/slack/pacing.py)
and takes a token of the method's bucket first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.deploy import DeployAssessment
from bot.app.records import FINAL_STATES
from bot.app.views import RequestView, View
from bot.slack.blocks import context, mention, state_text, when
from bot.slack.deploy_notice import render_notice, without_button
from bot.slack.mrkdwn import code, escape
from bot.slack.pacing import MethodBuckets
from bot.slack.permalinks import MessageLink, linked_id
from bot.store.notices import TOO_OLD, USED, PostedNotice, PostedNotices

log = structlog.get_logger("aspreset.slack.notices")

LIFETIME = timedelta(days=1)  # after a day the deploy a notice speaks of is likely no longer the running one
SETTLED = frozenset({TOO_OLD, *(state.value for state in FINAL_STATES)})  # nothing more to show


class NoticeKeeper:
    def __init__(self, client: WebClient, notices: PostedNotices, links: Callable[[str], MessageLink], *,
                 clock: Callable[[], datetime], request_state: Callable[[str], str],
                 buckets: MethodBuckets | None = None) -> None:
        self._client = client  # paced, and retrying a 429 after its Retry-After
        self._notices = notices
        self._links = links  # a request's message: its permalink (chat.getPermalink, kept per process)
        self._clock = clock
        self._state = request_state
        self._buckets = buckets
        self._showing = threading.Lock()

    def post(self, channel: str, assessment: DeployAssessment) -> str:
        """Post the notice (within chat.postMessage's budget) and record it; returns its ts."""
        rendered = render_notice(assessment)
        self._take("chat.postMessage")
        ts = str(self._client.chat_postMessage(channel=channel, text=rendered.text, blocks=rendered.blocks)["ts"])
        notice = assessment.notice
        try:
            self._notices.record(PostedNotice(
                channel=channel, ts=ts, site=notice.site, version=notice.version, rung=assessment.rung.value,
                posted_at=self._clock(), text=rendered.text, blocks=without_button(rendered.blocks)))
        except Exception as error:  # posted all the same: its button then says it is not on record
            log.error("deploy_notice_not_recorded", channel=channel, ts=ts, error=type(error).__name__)
        return ts

    def take_button(self, channel: str, ts: str, user: str, site: str) -> str | None:
        """The button is `user`'s to use now (None), or why their click runs nothing: it was used,
        or the notice is older than a day (then it is retired now, if the sweeper has not yet)."""
        notice = self._notices.get(channel, ts)
        if notice is None:
            return (f"This deploy notice is not in the bot's records, so its button runs nothing. Ask with "
                    f"{code(f'/recycle {site} --changed PATH')} for what changed.")
        now = self._clock()
        if notice.offered and now - notice.posted_at > LIFETIME:
            if self._notices.retire(channel, ts, TOO_OLD, user, now):
                self.show(channel, ts)
        elif notice.offered and self._notices.retire(channel, ts, USED, user, now):
            return None
        taken = self._notices.get(channel, ts) or notice
        return _why_not(taken, self._links(taken.request_id) if taken.request_id else None)

    def ran(self, channel: str, ts: str, user: str, view: View | None) -> None:
        """What `user`'s click started, shown on the notice; if it started nothing (the policy refused
        it), the button is offered again."""
        if not isinstance(view, RequestView) or view.state == "refused":
            self._notices.reoffer(channel, ts, user)
            return
        self._notices.started(channel, ts, view.id)
        self.show(channel, ts)

    def started(self, channel: str, ts: str, request_id: str) -> None:
        """The click's request exists (its message is posted): recorded at once, so a replica that
        outlives this one shows how it ends even if the click's own listener is gone."""
        self._notices.started(channel, ts, request_id)

    def sweep(self, by: str) -> list[str]:
        """Retire the notices older than a day that nobody used, and show what became of the used
        ones' requests; the ts of the notices this call updated."""
        now = self._clock()
        updated = []
        for notice in self._notices.unsettled(now - LIFETIME, SETTLED):
            if notice.offered:
                self._notices.retire(notice.channel, notice.ts, TOO_OLD, by, now)
            if self.show(notice.channel, notice.ts):
                updated.append(notice.ts)
        if updated:
            log.info("deploy_notices_updated", ts=updated)
        return updated

    def show(self, channel: str, ts: str) -> bool:
        """Update the notice to what the record says became of it, unless it shows that already; one
        caller across replicas makes each update."""
        with self._showing:  # this process's updates of a notice go out in order
            for _ in range(3):  # another caller changed what it shows meanwhile: read it again
                notice = self._notices.get(channel, ts)
                if notice is None or notice.offered:
                    return False
                target = TOO_OLD if self._too_old(notice) else self._request_state(notice)
                if target is None or target == notice.shown:
                    return False
                if self._notices.mark_shown(channel, ts, notice.shown, target):
                    return self._update(notice, target)
        return False

    def _update(self, notice: PostedNotice, target: str) -> bool:
        channel, ts = notice.channel, notice.ts
        try:
            self._take("chat.update")
            self._client.chat_update(channel=channel, ts=ts, text=notice.text,
                                     blocks=[*notice.blocks, context(self._note(notice, target))])
        except Exception as error:
            log.warning("deploy_notice_not_updated", channel=channel, ts=ts, error=_code(error))
            if not _final(error):  # Slack away or still limiting: the next sweep tries again
                self._notices.mark_shown(channel, ts, target, notice.shown)
            return False
        return True

    def _too_old(self, notice: PostedNotice) -> bool:
        """Retired for age; or used a day ago by a click that never made its request (its process
        died first): nothing will ever end, so it says it is too old."""
        abandoned = notice.request_id is None and notice.retired_at is not None \
            and self._clock() - notice.retired_at > LIFETIME
        return notice.retired_why == TOO_OLD or abandoned

    def _request_state(self, notice: PostedNotice) -> str | None:
        if notice.request_id is None:
            return None  # the click is still starting it
        try:
            return self._state(notice.request_id)
        except Exception as error:
            log.warning("deploy_notice_request_unread", request_id=notice.request_id, error=type(error).__name__)
            return None

    def _note(self, notice: PostedNotice, shown: str) -> str:
        if shown == TOO_OLD:
            return (f":hourglass: Older than a day: this deploy is likely no longer the running one, so the button "
                    f"was retired {when(notice.retired_at)}. Use `/recycle {escape(notice.site)}` for a restart now.")
        link = self._links(notice.request_id) if notice.request_id else None
        request = linked_id(notice.request_id or "?", link)
        where = "" if link is not None and link.url else " (in the thread)"
        return (f"{mention(notice.retired_by or '?')} used the button {when(notice.retired_at)}: {request}{where}, "
                f"{state_text(shown)}.")

    def _take(self, method: str) -> None:
        if self._buckets is not None:
            self._buckets.acquire(method)


def _why_not(notice: PostedNotice, link: MessageLink | None) -> str:
    if notice.retired_why == TOO_OLD:
        return (f"This deploy notice is more than a day old, so its button runs nothing now. Ask with "
                f"{code(f'/recycle {notice.site} --changed PATH')} for what changed since.")
    started = f": {linked_id(notice.request_id, link)}" if notice.request_id else ""
    return (f"{mention(notice.retired_by or '?')} already used this deploy notice's button "
            f"{when(notice.retired_at)}{started}. Nothing more was run; `/recycle status {escape(notice.site)}` "
            "shows where it is.")


def _code(error: Exception) -> str:
    return str(error.response.get("error")) if isinstance(error, SlackApiError) else type(error).__name__


def _final(error: Exception) -> bool:
    """Slack answered and will answer the same again (message_not_found, channel_not_found, ...)."""
    return isinstance(error, SlackApiError) and error.response.status_code == 200
