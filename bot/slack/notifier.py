"""The Notifier port for Slack: one channel message per request, posted when the request first shows
up and then updated in place with chat.update, never a flood of messages. A sender thread does
the Web API calls, so `notify` never blocks the restart; it keeps only the newest rendering of
each message (a burst of host events becomes one update) and honours Retry-After per channel
when Slack answers 429. Follow-ups (the outcome, for the requester) go in the message's thread.

When Slack refuses the first post (the bot is not in the site's channel, the channel is gone or
archived), the message goes to the channel the request was typed in instead, if that is another
one; either way the listener that made the request is told (`SlackOrigin.on_posted`) so the asker
hears where the message is, or that there is none and how to fix it. Nothing is posted silently
into the void: a message that could not be posted is not tried again on every event."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.events import EventKind, RequestEvent
from bot.app.records import FINAL_STATES
from bot.app.views import RequestView
from bot.slack import context
from bot.slack.blocks import Rendered, follow_up_text, render_request
from bot.slack.context import PostOutcome, SlackOrigin
from bot.slack.pacing import UPDATE_INTERVAL_S, MethodBuckets, retrying_client
from bot.slack.permalinks import Permalinks

if TYPE_CHECKING:
    from bot.slack.approver_dms import ApproverDMs
    from bot.store.shared import Shared

log = structlog.get_logger("aspreset.slack.notifier")

# what a request's message shows; a refused request has none (the person hears it, ephemeral)
_SHOWN = frozenset(EventKind) - {EventKind.REFUSED}
_FOLLOW_UP = frozenset({EventKind.FINISHED, EventKind.DENIED, EventKind.CANCELLED})
_RUN = frozenset({EventKind.STARTED, EventKind.HOST_STARTED, EventKind.HOST_FINISHED})  # heard where it runs
KEEP_ENDED = 500
CHANNEL_REFUSALS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


@dataclass
class _Message:
    channel: str
    ts: str | None = None  # None until chat.postMessage answered
    thread_ts: str | None = None  # the thread the message itself sits in (a deploy notice's)
    pending: Rendered | None = None
    pending_state: str = ""  # the request state `pending` shows
    runs_here: bool = False  # this process hears its run: its updates come in order, the end last
    follow_ups: list[str] = field(default_factory=list)
    ended: bool = False  # the request reached a final state: forget it once everything is sent
    failed: str | None = None  # Slack refused the first post: nothing more is sent for it
    fallback: str | None = None  # where it goes if the site's channel refuses it (where it was asked)
    refused_by: tuple[str, str] | None = None
    origin: SlackOrigin | None = None  # who to tell once it is posted (or refused)
    first_view: RequestView | None = None
    last_sent: float = float("-inf")  # monotonic time of its last post or update

    def method(self, follow_up: bool) -> str:
        return "chat.update" if self.ts is not None and not follow_up else "chat.postMessage"

    @property
    def idle(self) -> bool:
        return self.pending is None and not self.follow_ups


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        channel_for_site: Callable[[str], str | None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        shared: Shared | None = None,
        clock: Callable[[], datetime] | None = None,
        buckets: MethodBuckets | None = None,
        approver_dms: ApproverDMs | None = None,
    ) -> None:
        self._client = client
        # links to each request's message, for every reply that speaks of it (kept once asked)
        self.permalinks = Permalinks(retrying_client(client), self.message_of)
        self._shared = shared  # where each request's message is, for every replica
        self._buckets = buckets or MethodBuckets(monotonic=monotonic)
        self._approver_dms = approver_dms  # approvers outside the message's channel hear of it
        self._view_of: Callable[[str], RequestView] | None = None
        self._clock = clock or (lambda: datetime.now(UTC))
        self._channel_for_site = channel_for_site
        self._monotonic = monotonic
        self._messages: dict[str, _Message] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._not_before: dict[str, float] = {}  # channel -> when Slack lets us call again
        self._cond = threading.Condition()
        self._busy = 0  # messages being sent right now
        self._closed = False
        self._replies = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-replies")
        self._thread = threading.Thread(target=self._send_loop, name="slack-notifier", daemon=True)
        self._thread.start()

    # ---- the port -------------------------------------------------------------------------------

    def notify(self, event: RequestEvent) -> None:
        origin = context.current()
        if origin is not None:
            origin.heard.append(event.kind.value)
        if event.request is None or event.kind not in _SHOWN:
            return
        self.show(event.request_id, event.request, follow_up=event.kind in _FOLLOW_UP, runs_here=event.kind in _RUN)

    # ---- for the listeners ----------------------------------------------------------------------

    def bind(self, request_id: str, channel: str, ts: str) -> None:
        """The request's message is this one (a click on it arrived, perhaps on another replica)."""
        with self._cond:
            message = self._messages.get(request_id)
            if message is None:
                self._messages[request_id] = _Message(channel=channel, ts=ts)
            elif message.ts is None:
                message.channel, message.ts = channel, ts

    def show(self, request_id: str, view: RequestView, *, follow_up: bool = False, runs_here: bool = False) -> None:
        """Render the request's view onto its message (posting it first if there is none yet)."""
        rendered = render_request(view)
        with self._cond:
            message = self._messages.get(request_id) or self._new_message(request_id, view)
            if message is None or message.failed:
                return
            message.pending, message.pending_state = rendered, view.state
            message.runs_here = message.runs_here or runs_here
            if view.state in FINAL_STATES and not message.ended:
                message.follow_ups += rendered.overflow  # what did not fit in 50 blocks, once, in the thread
            message.ended = view.state in FINAL_STATES
            if follow_up:
                text = follow_up_text(view)
                if text:
                    message.follow_ups.append(text)
            self._cond.notify_all()

    def first_to_show(self, request_id: str, state: str) -> bool:
        """True for the one caller (on any replica) that shows this final state first."""
        if self._shared is None:
            return True
        try:
            return self._shared.mark_shown(request_id, state)
        except Exception as error:
            log.warning("slack_shown_state_unknown", request_id=request_id, error=type(error).__name__)
            return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every pending update is sent (or given up); True when all were."""
        deadline = self._monotonic() + timeout
        with self._cond:
            while self._busy or any(m.pending or (m.follow_ups and m.ts) for m in self._messages.values()):
                left = deadline - self._monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._replies.shutdown(wait=True)

    def message_of(self, request_id: str) -> tuple[str, str | None] | None:
        """Where the request's message is (ts None: being posted), or None: it has none (Slack
        refused it, or it was never posted)."""
        with self._cond:
            message = self._messages.get(request_id)
            if message is not None:
                return None if message.failed else (message.channel, message.ts)
        return self._recorded(request_id)

    def _recorded(self, request_id: str) -> tuple[str, str] | None:
        if self._shared is None:
            return None
        try:
            return self._shared.message_of(request_id)
        except Exception as error:  # the store is away: this replica knows only its own messages
            log.warning("slack_message_lookup_failed", request_id=request_id, error=type(error).__name__)
            return None

    # ---- the sender -----------------------------------------------------------------------------

    def _forget_some(self, request_id: str) -> None:
        """Keep the newest ended messages only (a click on an older one re-binds it from its payload)."""
        self._ended.pop(request_id, None)
        self._ended[request_id] = None
        while len(self._ended) > KEEP_ENDED:
            old, _ = self._ended.popitem(last=False)
            message = self._messages.get(old)
            if message is not None and message.ended and message.idle:
                del self._messages[old]

    def _new_message(self, request_id: str, view: RequestView) -> _Message | None:
        recorded = self._recorded(request_id)
        if recorded is not None:  # posted before, perhaps by another replica or a process now gone
            message = _Message(channel=recorded[0], ts=recorded[1])
            self._messages[request_id] = message
            return message
        origin = context.current()
        channel = self._channel_for_site(view.site) or (origin.channel if origin else None)
        if channel is None:
            log.warning("no_channel", request_id=request_id, site=view.site)
            return None
        thread = origin.thread_ts if origin and origin.channel == channel else None
        fallback = origin.channel if origin and origin.channel and origin.channel != channel else None
        if origin is not None and origin.on_posted is not None:
            origin.posting.append(request_id)
        message = _Message(channel=channel, thread_ts=thread, fallback=fallback,
                           origin=origin if origin and origin.on_posted else None, first_view=view)
        self._messages[request_id] = message
        return message

    def _next(self) -> tuple[str, _Message, tuple[Rendered, str] | None, str | None] | None:
        """The next call that may go now: (request id, message, (rendering, its state) or None,
        follow-up text).
        A message updated less than a second ago waits (what comes meanwhile replaces its pending
        rendering); a method whose bucket is empty waits for a token."""
        now = self._monotonic()
        for request_id, message in self._messages.items():
            if self._not_before.get(message.channel, 0.0) > now:
                continue
            if message.pending is not None and self._may_send(message, now, follow_up=False):
                self._buckets.take(message.method(follow_up=False))
                rendered, message.pending = message.pending, None
                return request_id, message, (rendered, message.pending_state), None
            if message.follow_ups and message.ts and self._may_send(message, now, follow_up=True):
                self._buckets.take("chat.postMessage")
                return request_id, message, None, message.follow_ups.pop(0)
        return None

    def _may_send(self, message: _Message, now: float, *, follow_up: bool) -> bool:
        return self._ready_in(message, now, follow_up=follow_up) <= 0.0

    def _ready_in(self, message: _Message, now: float, *, follow_up: bool) -> float:
        method = message.method(follow_up)
        wait = self._buckets.wait_s(method)
        if method == "chat.update":
            wait = max(wait, message.last_sent + UPDATE_INTERVAL_S - now)
        return wait

    def _wait_s(self) -> float | None:
        """How long the sender may sleep before something could go (None: until woken)."""
        now = self._monotonic()
        waits = [t - now for t in self._not_before.values() if t > now]
        for message in self._messages.values():
            if self._not_before.get(message.channel, 0.0) > now:
                continue
            if message.pending is not None:
                waits.append(self._ready_in(message, now, follow_up=False))
            elif message.follow_ups and message.ts:
                waits.append(self._ready_in(message, now, follow_up=True))
        return max(0.01, min(waits)) if waits else None

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                job = self._next()
                while job is None:
                    if self._closed:
                        return
                    self._cond.wait(self._wait_s())
                    job = self._next()
                self._busy += 1
            request_id, message, rendering, follow_up = job
            try:
                self._send(request_id, message, rendering, follow_up)
            finally:
                with self._cond:
                    self._busy -= 1
                    if message.ended and message.idle:
                        self._forget_some(request_id)
                    self._cond.notify_all()

    def _send(self, request_id: str, message: _Message, rendering: tuple[Rendered, str] | None,
              follow_up: str | None) -> None:
        try:
            # only an update of a replica that does not run the request can be older than what shows
            state = rendering[1] if rendering is not None and not message.runs_here else None
            if state is not None and self._stale(request_id, message, state):
                log.info("slack_stale_update_dropped", request_id=request_id, state=state)
                return
            final = rendering[1] if rendering is not None and rendering[1] in FINAL_STATES else None
            self._call(request_id, message, rendering[0] if rendering else None, follow_up)
            if final is not None and message.ts is not None:  # (an end heard was marked as it was heard)
                self.first_to_show(request_id, final)  # from now on no replica shows an older state over it
            elif state is not None and self._stale(request_id, message, state):
                self._show_again(request_id)  # the final state landed just before this update: again
        finally:
            if follow_up is None:  # the next update on it waits a second from when Slack had this one
                message.last_sent = self._monotonic()

    def reads_views_from(self, view_of: Callable[[str], RequestView]) -> None:
        """Where the request's current view comes from (the service), to show it again when an
        update of this replica may have landed over another replica's final one."""
        self._view_of = view_of

    def _show_again(self, request_id: str) -> None:
        if self._view_of is None:
            return
        try:
            self.show(request_id, self._view_of(request_id))
        except Exception as error:
            log.warning("slack_show_again_failed", request_id=request_id, error=type(error).__name__)

    def _stale(self, request_id: str, message: _Message, state: str) -> bool:
        """True for an update that would show a request as still going on a message that another
        replica (or this one) already showed ended. Two replicas each hear part of one request (the
        approval on one, the run on the other), and their updates may arrive in any order."""
        if self._shared is None or state in FINAL_STATES or message.ts is None:
            return False
        try:
            shown = self._shared.shown_state(request_id)
        except Exception as error:  # the store is away: send it; the final state is sent after it
            log.warning("slack_shown_state_unknown", request_id=request_id, error=type(error).__name__)
            return False
        return shown in FINAL_STATES

    def _call(self, request_id: str, message: _Message, rendered: Rendered | None, follow_up: str | None) -> None:
        try:
            if follow_up is not None:
                self._client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts or message.ts,
                                              text=follow_up)
            elif rendered is not None and message.ts is None:
                answer = self._client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts,
                                                       text=rendered.text, blocks=rendered.blocks)
                with self._cond:
                    message.ts = str(answer["ts"])
                self._remember(request_id, message.channel, message.ts)
                self._dm_approvers(message)
                self._tell_origin(message, PostOutcome(message.channel, message.ts, refused_by=message.refused_by))
            elif rendered is not None:
                self._client.chat_update(channel=message.channel, ts=str(message.ts), text=rendered.text,
                                         blocks=rendered.blocks)
        except SlackApiError as error:
            status = error.response.status_code
            if status == 429:
                retry_after = float(error.response.headers.get("Retry-After", "1") or 1)
                log.info("slack_rate_limited", request_id=request_id, channel=message.channel,
                         retry_after_s=retry_after)
                with self._cond:
                    self._not_before[message.channel] = self._monotonic() + retry_after
                    if rendered is not None and message.pending is None:
                        message.pending = rendered  # send it again, unless something newer came
                    if follow_up is not None:
                        message.follow_ups.insert(0, follow_up)
                return
            code = str(error.response.get("error") or f"http_{status}")
            log.warning("slack_call_failed", request_id=request_id, channel=message.channel, error=code)
            if rendered is not None and message.ts is None:
                self._post_refused(message, rendered, code)
        except Exception as error:  # Slack unreachable: the restart goes on, the log says why
            log.warning("slack_unreachable", request_id=request_id, error=type(error).__name__)
            if rendered is not None and message.ts is None:
                self._post_refused(message, rendered, "slack_unreachable")

    def _dm_approvers(self, message: _Message) -> None:
        view, dms = message.first_view, self._approver_dms
        if dms is None or view is None or view.state != "awaiting_approval" or message.ts is None:
            return
        channel, ts = message.channel, message.ts

        def tell() -> None:
            try:
                dms.tell(view, channel, ts, self.permalinks)
            except Exception:  # Slack away: the request still waits in its channel
                log.exception("approver_dms_failed", request_id=view.id)

        self._replies.submit(tell)

    def _remember(self, request_id: str, channel: str, ts: str) -> None:
        if self._shared is None:
            return
        try:
            self._shared.remember_message(request_id, channel, ts, self._clock())
        except Exception as error:  # other replicas will post their own message for it
            log.warning("slack_message_not_recorded", request_id=request_id, error=type(error).__name__)

    def _post_refused(self, message: _Message, rendered: Rendered, code: str) -> None:
        """The first post failed: try where the request was asked, else give up on this message
        and tell the asker."""
        with self._cond:
            if code in CHANNEL_REFUSALS and message.fallback:
                message.refused_by = (message.channel, code)
                message.channel, message.fallback, message.thread_ts = message.fallback, None, None
                if message.pending is None:
                    message.pending = rendered
                return
            message.failed = code
            message.pending, message.follow_ups = None, []
        self._tell_origin(message, PostOutcome(message.channel, None, code, refused_by=message.refused_by))

    def _tell_origin(self, message: _Message, outcome: PostOutcome) -> None:
        origin, view = message.origin, message.first_view
        message.origin = None  # once
        if origin is None or origin.on_posted is None or view is None:
            return
        tell = origin.on_posted

        def with_permalink() -> None:
            found = outcome
            if outcome.ts is not None:  # kept for later replies and lists; without it the reply names the channel
                link = self.permalinks.of_message(outcome.channel, outcome.ts)
                found = PostOutcome(outcome.channel, outcome.ts, permalink=link.url, refused_by=outcome.refused_by)
            try:
                tell(view, found)
            except Exception:
                log.exception("slack_reply_failed", request_id=view.id)

        self._replies.submit(with_permalink)
