"""Processes of a simulated Windows server: worker processes (w3wp.exe, aspnet_wp.exe, an ASP.NET
Core app's dotnet.exe), their PIDs and start times.

Windows reuses PIDs, and so does this model (the conservative case): a PID freed by an exited
process is handed to the next one started, so only (PID, start time) identifies a process.
Start times are unique and increasing, like a FILETIME.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class Worker:
    pid: int
    started_at: str
    ready_at: float
    exits_at: float | None = None
    retiring: bool = False  # told to shut down (recycle): takes no new requests
    hung: bool = False  # ignores shutdown: WAS kills it at shutdownTimeLimit
    private_bytes: int = 180 * 1024 * 1024  # what the watch reads (`leak HOST MB` in the control)

    def alive(self, now: float) -> bool:
        return self.exits_at is None or now < self.exits_at

    def serving(self, now: float) -> bool:
        return self.alive(now) and not self.retiring and not self.hung and self.ready_at <= now


@dataclass(frozen=True)
class ProcessEvent:
    at: float  # time.monotonic()
    kind: str  # start | exit
    pool: str
    pid: int


class ProcessTable:
    """Hands out PIDs (reusing freed ones, lowest first, when `reuse` is set) and start times."""

    def __init__(self, first_pid: int, *, reuse: bool = True) -> None:
        self._next = first_pid
        self._free: list[int] = []
        self.reuse = reuse
        self._last = datetime.now(UTC)
        self._lock = threading.Lock()

    def new_pid(self) -> int:
        with self._lock:
            if self.reuse and self._free:
                self._free.sort()
                return self._free.pop(0)
            pid = self._next
            self._next += 4
            return pid

    def free(self, pid: int) -> None:
        with self._lock:
            if pid not in self._free:
                self._free.append(pid)

    def start_time(self) -> str:
        """Now, as ISO 8601 UTC with microseconds, always later than the one before."""
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now.isoformat(timespec="microseconds").replace("+00:00", "Z")
