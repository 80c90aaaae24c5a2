"""Expiry made visible: a waiting request that nobody approved expires on its own clock, and its
message must say so (buttons gone, "expired, nothing ran") with the requester told in the thread,
even if nobody touches it. Every `every_s` seconds one replica, the one holding the store's lease,
expires what is due and shows each newly expired request once (the store's `mark_shown` is true for
exactly one caller), so replicas never double-post. The same round marks interrupted the runs whose
runner was a process of this machine that is gone (killed mid-run) and updates their message, so a
replica beside a killed one does not wait for a restart to say so."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from bot.app.records import RequestState
from bot.app.service import Service
from bot.bootstrap import reap_dead_local_runs
from bot.slack.notifier import SlackNotifier

if TYPE_CHECKING:
    from bot.store.shared import Shared

log = structlog.get_logger("aspreset.slack.sweeper")

LEASE = "expiry-sweeper"
EVERY_S = 15.0  # well within the minute the requester is promised


class ExpirySweeper:
    def __init__(self, service: Service, notifier: SlackNotifier, shared: Shared, owner: str, *,
                 every_s: float = EVERY_S, clock: Callable[[], datetime] | None = None) -> None:
        self._service = service
        self._notifier = notifier
        self._shared = shared
        self._owner = owner
        self._every_s = every_s
        self._clock = clock or service.clock
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
        """Expire what is due and show what expired since; the ids shown by this replica."""
        now = self._clock()
        if not self._shared.hold_lease(LEASE, self._owner, now, ttl_s=3 * self._every_s):
            return []
        store = self._service.store
        for request_id in reap_dead_local_runs(store):
            self._notifier.show(request_id, self._service.get_request(request_id), follow_up=False)
        store.expire_due(now)
        shown = []
        for request in store.list(state=RequestState.EXPIRED, limit=100):
            if self._notifier.first_to_show(request.id, RequestState.EXPIRED.value):
                self._notifier.show(request.id, self._service.get_request(request.id), follow_up=True)
                shown.append(request.id)
        if shown:
            log.info("expired_shown", request_ids=shown)
        return shown

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.sweep_once()
            except Exception:  # the store or Slack was away: the next round tries again
                log.exception("expiry_sweep_failed")
