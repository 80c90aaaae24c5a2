"""What a run has done to its hosts, in the store as it happens, so that a run cut off hard (its
runner SIGKILLed, its machine lost) is shown afterwards host by host, by whichever replica or
sweeper marks it interrupted: the hosts that finished (outcome, PIDs before and after), the hosts of
the wave under way (their state unknown) and the hosts never started.

The record (the request's `result` while it runs, Store.record_hosts) holds:

    {"hosts": [...each finished host's outcome...], "dispatched": [...hosts whose wave began...]}

A wave is recorded before any of its hosts starts (the rollout waits for that write), so a host
the record does not name was never touched. A host's end is written by a thread of its own, which
writes the newest picture once for however many ends came meanwhile: the rollout never waits on it,
and a host whose end was not written yet when the process died shows as "state unknown", never as
done."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import structlog

from bot.app.ports import Store
from bot.app.verification import HostOutcome

log = structlog.get_logger("aspreset.service")


class HostsRecord:
    """`with HostsRecord(store, request_id) as record`: `record.wave(hosts)` before a wave starts,
    `record.finished(outcome)` as each host ends. Leaving the block stops the writer (the run's own
    result replaces the record then)."""

    def __init__(self, store: Store, request_id: str) -> None:
        self._store = store
        self._request_id = request_id
        self._lock = threading.Lock()  # guards the picture
        self._writing = threading.Lock()  # one write at a time, each of the newest picture
        self._dispatched: list[str] = []
        self._finished: list[dict[str, Any]] = []
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"hosts-record-{request_id}", daemon=True)

    def __enter__(self) -> HostsRecord:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join()

    def wave(self, hosts: Sequence[str]) -> None:
        """Recorded before the wave's first host starts; the rollout waits for this write."""
        with self._lock:
            self._dispatched += hosts
        self._write()

    def finished(self, outcome: HostOutcome) -> None:
        """Written soon, by the writer's thread: the caller (the rollout's thread) does not wait."""
        with self._lock:
            self._finished.append(outcome.to_json())
        self._changed.set()

    def _loop(self) -> None:
        while True:
            self._changed.wait()
            if self._stop.is_set():
                return
            self._changed.clear()
            self._write()

    def _write(self) -> None:
        with self._writing:
            with self._lock:
                known = {"hosts": list(self._finished), "dispatched": list(self._dispatched)}
            try:
                self._store.record_hosts(self._request_id, known)
            except Exception as failed:  # the store away for a moment: the next write carries this too
                log.warning("hosts_not_recorded", request_id=self._request_id, error=type(failed).__name__)
