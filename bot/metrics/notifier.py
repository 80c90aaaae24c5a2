"""The Notifier the service is given when something measures it: each event goes to the metrics,
then to the front end's own Notifier. One place, so the core never calls the metrics itself."""

from __future__ import annotations

import structlog

from bot.app.events import RequestEvent
from bot.app.ports import Metrics, Notifier

log = structlog.get_logger("aspreset.metrics")


class MeasuredNotifier:
    def __init__(self, metrics: Metrics, notifier: Notifier) -> None:
        self.metrics = metrics
        self.notifier = notifier

    def notify(self, event: RequestEvent) -> None:
        try:
            self.metrics.observe(event)
        except Exception:  # a number not counted must never cost a person their message
            log.exception("metrics_failed", request_id=event.request_id, kind=event.kind.value)
        self.notifier.notify(event)
