"""The Notifier port for Slack: one channel message per request, posted when the request first shows
up and then updated in place with chat.update, never a flood of messages. A sender thread does
the Web API calls, so `notify` never blocks the restart; it keeps only the newest rendering of
each message (a burst of host events becomes one update) and honours Retry-After per channel
when Slack answers 429. Follow-ups (the outcome, for the requester) go in the message's thread."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.events import EventKind, RequestEvent
from bot.app.views import RequestView
from bot.slack import context
from bot.slack.blocks import Rendered, follow_up_text, render_request

log = structlog.get_logger("aspreset.slack.notifier")

# what a request's message shows; a refused request has none (the person hears it, ephemeral)
_SHOWN = frozenset(EventKind) - {EventKind.REFUSED}
_FOLLOW_UP = frozenset({EventKind.FINISHED, EventKind.DENIED, EventKind.CANCELLED})
KEEP_ENDED = 500
_ENDED = frozenset({"succeeded", "failed", "partially_failed", "denied", "cancelled", "expired", "refused",
                    "interrupted"})


@dataclass
class _Message:
    channel: str
    ts: str | None = None  # None until chat.postMessage answered
    thread_ts: str | None = None  # the thread the message itself sits in (a deploy notice's)
    pending: Rendered | None = None
    follow_ups: list[str] = field(default_factory=list)
    ended: bool = False  # the request reached a final state: forget it once everything is sent

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
    ) -> None:
        self._client = client
        self._channel_for_site = channel_for_site
        self._monotonic = monotonic
        self._messages: dict[str, _Message] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._not_before: dict[str, float] = {}  # channel -> when Slack lets us call again
        self._cond = threading.Condition()
        self._busy = 0  # messages being sent right now
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, name="slack-notifier", daemon=True)
        self._thread.start()

    # ---- the port -------------------------------------------------------------------------------

    def notify(self, event: RequestEvent) -> None:
        origin = context.current()
        if origin is not None:
            origin.heard.append(event.kind.value)
        if event.request is None or event.kind not in _SHOWN:
            return
        self.show(event.request_id, event.request, follow_up=event.kind in _FOLLOW_UP)

    # ---- for the listeners ----------------------------------------------------------------------

    def bind(self, request_id: str, channel: str, ts: str) -> None:
        """The request's message is this one (a click on it arrived, perhaps on another replica)."""
        with self._cond:
            message = self._messages.get(request_id)
            if message is None:
                self._messages[request_id] = _Message(channel=channel, ts=ts)
            elif message.ts is None:
                message.channel, message.ts = channel, ts

    def show(self, request_id: str, view: RequestView, *, follow_up: bool = False) -> None:
        """Render the request's view onto its message (posting it first if there is none yet)."""
        rendered = render_request(view)
        with self._cond:
            message = self._messages.get(request_id) or self._new_message(request_id, view)
            if message is None:
                return
            message.pending = rendered
            message.ended = view.state in _ENDED
            if follow_up:
                text = follow_up_text(view)
                if text:
                    message.follow_ups.append(text)
            self._cond.notify_all()

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

    def message_of(self, request_id: str) -> tuple[str, str | None] | None:
        with self._cond:
            message = self._messages.get(request_id)
            return (message.channel, message.ts) if message else None

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
        origin = context.current()
        channel = self._channel_for_site(view.site) or (origin.channel if origin else None)
        if channel is None:
            log.warning("no_channel", request_id=request_id, site=view.site)
            return None
        thread = origin.thread_ts if origin and origin.channel == channel else None
        message = _Message(channel=channel, thread_ts=thread)
        self._messages[request_id] = message
        return message

    def _next(self) -> tuple[str, _Message, Rendered | None, str | None] | None:
        """The next call that may go now: (request id, message, rendering or None, follow-up text)."""
        now = self._monotonic()
        for request_id, message in self._messages.items():
            if self._not_before.get(message.channel, 0.0) > now:
                continue
            if message.pending is not None:
                rendered, message.pending = message.pending, None
                return request_id, message, rendered, None
            if message.follow_ups and message.ts:
                return request_id, message, None, message.follow_ups.pop(0)
        return None

    def _wait_s(self) -> float | None:
        waiting = [t for t in self._not_before.values() if t > self._monotonic()]
        return max(0.01, min(waiting) - self._monotonic()) if waiting else None

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
            request_id, message, rendered, follow_up = job
            try:
                self._send(request_id, message, rendered, follow_up)
            finally:
                with self._cond:
                    self._busy -= 1
                    if message.ended and message.idle:
                        self._forget_some(request_id)
                    self._cond.notify_all()

    def _send(self, request_id: str, message: _Message, rendered: Rendered | None, follow_up: str | None) -> None:
        try:
            if follow_up is not None:
                self._client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts or message.ts,
                                              text=follow_up)
            elif rendered is not None and message.ts is None:
                answer = self._client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts,
                                                       text=rendered.text, blocks=rendered.blocks)
                with self._cond:
                    message.ts = str(answer["ts"])
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
            log.warning("slack_call_failed", request_id=request_id, channel=message.channel,
                        error=error.response.get("error"))
        except Exception as error:  # Slack unreachable: the restart goes on, the log says why
            log.warning("slack_unreachable", request_id=request_id, error=type(error).__name__)
