"""A running request's sign of life: while a run goes on, whoever runs it renews the request's
liveness record in the store (the RunLiveness port) every `HEARTBEAT_S`, on a thread of its own, so
the deployment's one sweeper can tell a run whose process died (a machine lost, a hard kill) from a
long one, whichever machine it ran on. Liveness is about processes, so it reads the wall clock,
never the service's clock (which tests move by hand)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import TracebackType

import structlog

from bot.app.ports import RunLiveness

log = structlog.get_logger("aspreset.service")

HEARTBEAT_S = 5.0
LAPSES_AFTER_S = 20.0  # four heartbeats missed: the record says the runner is gone from then on


def wall_now() -> datetime:
    return datetime.now(UTC)


class Heartbeat:
    """`with Heartbeat(...)`: renewed at once and then every `every_s` until the block ends, when the
    record is removed (the request's own state says the rest). Without a liveness port: nothing."""

    def __init__(self, liveness: RunLiveness | None, request_id: str, owner: str | None, *,
                 every_s: float = HEARTBEAT_S, lapses_after_s: float = LAPSES_AFTER_S) -> None:
        self._liveness = liveness
        self._request_id = request_id
        self._owner = owner or "unknown"
        self._every_s = every_s
        self._lapses_after_s = lapses_after_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{request_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        if self._liveness is not None:
            self._renew()
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._liveness is None:
            return
        self._stop.set()
        self._thread.join()
        try:
            self._liveness.end(self._request_id)
        except Exception as failed:  # the record lapses on its own; the request's state is final anyway
            log.warning("liveness_not_ended", request_id=self._request_id, error=type(failed).__name__)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self._renew()

    def _renew(self) -> None:
        assert self._liveness is not None
        try:
            self._liveness.renew(self._request_id, self._owner, wall_now(), self._lapses_after_s)
        except Exception as failed:  # the store away for a moment: the next beat tries again
            log.warning("liveness_not_renewed", request_id=self._request_id, error=type(failed).__name__)
