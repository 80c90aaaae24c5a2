"""Expiry made visible: a waiting request that nobody approved expires on its own clock, and its
message must say so (buttons gone, "expired, nothing ran") with the requester told in the thread,
even if nobody touches it. Every `every_s` seconds one replica, the one holding the store's lease,
expires what is due and shows each newly expired request once (the store's `mark_shown` is true for
exactly one caller), so replicas never double-post. The same round marks interrupted the runs whose
runner is gone, and updates their message (not a new post): a process of this machine that no
longer exists, or, on any machine, a runner that stopped renewing its run's liveness record
(bot/store/liveness.py), so a replica beside a killed one, or a machine lost, does not wait for a
restart to say so. And it keeps the deploy notices honest (bot/slack/notice_keeper.py): one a day
old that nobody used loses its button, and a used one shows how its restart ended."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from bot.app.events import RequestEvent
from bot.app.heartbeat import wall_now
from bot.app.records import FINAL_STATES, Request, RequestState
from bot.app.service import Service
from bot.bootstrap import reap_dead_local_runs
from bot.slack.notice_keeper import NoticeKeeper
from bot.slack.notifier import SlackNotifier

if TYPE_CHECKING:
    from bot.store.liveness import LapsedRuns
    from bot.store.shared import Shared

log = structlog.get_logger("aspreset.slack.sweeper")

LEASE = "expiry-sweeper"
EVERY_S = 15.0  # well within the minute the requester is promised
UNSHOWN_AFTER_S, UNSHOWN_UNTIL_S = 60.0, 3600.0  # an end the live front end had time to show, not old news
_ENDS_SHOWN_LATE = FINAL_STATES - {RequestState.EXPIRED, RequestState.REFUSED}  # expiry: above; refused: no message


class MarksShown:
    """The Service's Notifier around the Slack one: a request's end heard here is marked shown in the
    store, so the sweeper leaves it to this replica's own (paced) update."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self._notifier = notifier

    def notify(self, event: RequestEvent) -> None:
        self._notifier.notify(event)
        if event.state is not None and event.state in _ENDS_SHOWN_LATE:
            self._notifier.first_to_show(event.request_id, event.state)


class ExpirySweeper:
    def __init__(self, service: Service, notifier: SlackNotifier, shared: Shared, owner: str, *,
                 every_s: float = EVERY_S, clock: Callable[[], datetime] | None = None,
                 replica: str | None = None, lapsed: LapsedRuns | None = None,
                 notices: NoticeKeeper | None = None) -> None:
        self._service = service
        self._notifier = notifier
        self._shared = shared
        self._owner = owner
        self._every_s = every_s
        self._clock = clock or service.clock
        self._replica = replica  # this machine's name: its dead processes' runs are reaped by pid
        self._lapsed = lapsed  # runs on any machine whose liveness record lapsed
        self._notices = notices  # deploy notices: a day old, or their restart ended
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="slack-expiry-sweeper", daemon=True)

    def start(self) -> ExpirySweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def sweep_once(self) -> list[str]:
        """Reap the runs whose runner is gone, show the ends nobody showed, expire what is due and show
what expired since; the expired ids shown by this replica."""
        now = self._clock()
        if not self._shared.hold_lease(LEASE, self._owner, now, ttl_s=3 * self._every_s):
            return []
        store = self._service.store
        reaped = reap_dead_local_runs(store, self._replica)
        if self._lapsed is not None:
            reaped += self._lapsed.reap(store, wall_now())
        for request_id in reaped:
            self._notifier.first_to_show(request_id, RequestState.INTERRUPTED.value)
            self._notifier.show(request_id, self._service.get_request(request_id), follow_up=False)
        self._show_unshown_ends(store.list(limit=100), now)
        store.expire_due(now)
        shown = []
        for request in store.list(state=RequestState.EXPIRED, limit=100):
            if self._notifier.first_to_show(request.id, RequestState.EXPIRED.value):
                self._notifier.show(request.id, self._service.get_request(request.id), follow_up=True)
                shown.append(request.id)
        if shown:
            log.info("expired_shown", request_ids=shown)
        if self._notices is not None:
            self._notices.sweep(self._owner)
        return shown

    def _show_unshown_ends(self, recent: list[Request], now: datetime) -> None:
        """A run whose front end died (its runner finished it alone) ended with nobody to show it: its
        message shows the end once it is a while old and no replica marked it shown."""
        for request in recent:
            age = (now - request.updated_at).total_seconds()
            if request.state in _ENDS_SHOWN_LATE and UNSHOWN_AFTER_S <= age <= UNSHOWN_UNTIL_S \
                    and self._notifier.first_to_show(request.id, request.state.value):
                log.info("unshown_end_shown", request_id=request.id, state=request.state.value)
                self._notifier.show(request.id, self._service.get_request(request.id), follow_up=False)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.sweep_once()
            except Exception:  # the store or Slack was away: the next round tries again
                log.exception("expiry_sweep_failed")
