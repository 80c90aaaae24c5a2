"""The IncidentNotifier for Slack: one message per incident in the site's channel, posted when it
opens and updated in place (chat.update) while it lasts and when it recovers; never a message per
probe. A sender thread makes the calls, so the watch never waits on Slack; it keeps only the newest
state of each incident (probes that come faster than Slack takes updates become one update), takes
a token of the method's bucket shared with the rest of the process, waits at least a second between
updates of one message, and its client waits out a 429's Retry-After. Where the message is lives
in the store with the incident, so a replica that takes the watch over updates the same message."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.watch.incidents import Incident, IncidentStore
from bot.app.watch.offers import Offer
from bot.slack.incident_blocks import render_incident
from bot.slack.pacing import UPDATE_INTERVAL_S, MethodBuckets
from bot.slack.permalinks import MessageLink

log = structlog.get_logger("aspreset.slack.incidents")


class SlackIncidents:
    def __init__(self, client: WebClient, incidents: IncidentStore, offer: Callable[[Incident], Offer],
                 channel_for_site: Callable[[str], str | None], buckets: MethodBuckets, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 links: Callable[[str], MessageLink] | None = None) -> None:
        self._client = client  # a retrying client: a 429 is waited out (bot.slack.pacing)
        self._links = links  # a recovery names the request it came after, linked to its message
        self._incidents = incidents
        self._offer = offer
        self._channel_for_site = channel_for_site
        self._buckets = buckets
        self._monotonic = monotonic
        self._pending: OrderedDict[str, Incident] = OrderedDict()
        self._last_sent: dict[str, float] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="slack-incidents", daemon=True)
        self._thread.start()

    def incident(self, incident: Incident, change: str) -> None:
        with self._cond:
            self._pending[incident.id] = incident  # the newest state replaces what was not sent yet
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = self._monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
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

    def _next(self) -> tuple[Incident | None, float]:
        """The next incident whose message may be sent now, else how long until one may."""
        now, wait = self._monotonic(), 3600.0
        for incident_id, incident in self._pending.items():
            ready_in = self._last_sent.get(incident_id, float("-inf")) + UPDATE_INTERVAL_S - now
            if ready_in <= 0:
                del self._pending[incident_id]
                return incident, 0.0
            wait = min(wait, ready_in)
        return None, wait

    def _loop(self) -> None:
        while True:
            with self._cond:
                incident, wait = self._next()
                while incident is None:
                    if self._closed:
                        return
                    self._cond.wait(wait)
                    incident, wait = self._next()
                self._busy = True
            try:
                self._send(incident)
            except Exception as error:  # Slack away: the incident is in the store; the next change retries
                log.warning("slack_incident_not_sent", incident=incident.id, error=type(error).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._last_sent[incident.id] = self._monotonic()
                    if not incident.is_open:
                        self._last_sent.pop(incident.id, None)
                    self._cond.notify_all()

    def _send(self, incident: Incident) -> None:
        known = self._incidents.get_incident(incident.id)  # where its message is, perhaps posted elsewhere
        channel = (known.channel if known else None) or self._channel_for_site(incident.site)
        ts = known.ts if known else None
        if channel is None:
            log.warning("incident_without_channel", incident=incident.id, site=incident.site,
                        fix=f"give sites.{incident.site}.channel in the inventory")
            return
        rendered = render_incident(incident, self._offer(incident), self._links)
        try:
            if ts is None:
                self._buckets.acquire("chat.postMessage")
                answer = self._client.chat_postMessage(channel=channel, text=rendered.text, blocks=rendered.blocks)
                self._incidents.remember_incident_message(incident.id, channel, str(answer["ts"]))
                log.info("incident_posted", incident=incident.id, channel=channel)
            else:
                self._buckets.acquire("chat.update")
                self._client.chat_update(channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks)
        except SlackApiError as error:
            code = str(error.response.get("error") or f"http_{error.response.status_code}")
            log.warning("slack_incident_refused", incident=incident.id, channel=channel, error=code)
