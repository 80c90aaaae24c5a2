"""One deadline per host per operation, enforced on the sockets themselves.

requests (and so pywinrm) only knows per-socket-operation timeouts: a connect timeout and a read
timeout that restarts with every byte received. An endpoint that answers a few bytes at a time,
or stalls mid-body after sending its headers, never trips them, and nothing bounds a whole call
of five HTTP requests (pywinrm #157 and #274 ask for exactly that). So every socket a host's HTTP
session opens is registered with its `SocketWatch`, and a `Deadline` shuts those sockets down when
it passes: the blocked read returns at once, the call unwinds, and `Deadline.expired` tells the
error mapping that it was our deadline, not the host, that ended it.

`Deadlines` are the per-operation-kind budgets from `[winrm]` (status and discovery short, a
restart long enough for the pool's shutdown limit plus warm-up) and the clean-up's own budget.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

READ_ONLY_OPERATIONS = frozenset({"status", "discover", "probe"})


@dataclass(frozen=True)
class Deadlines:
    """Seconds per operation kind, and the setting each comes from (named in timeout messages)."""

    status_s: float = 30.0
    discover_s: float = 60.0
    restart_s: float = 240.0
    cleanup_s: float = 5.0
    """Signal terminate and Delete shell, best effort, reserved from the end of the deadline."""

    def __post_init__(self) -> None:
        if min(self.status_s, self.discover_s, self.restart_s, self.cleanup_s) <= 0:
            raise ValueError("deadlines must be positive")

    def for_op(self, op: str, *, warm_up: bool = False, request_s: float = 0.0) -> tuple[float, str]:
        """(seconds, the [winrm] setting that sets them). A status with a warm-up (the none rung)
        waits for a cold start as a restart does, so it gets the restart's deadline, which the
        config check keeps above the script's own timeout (`command_timeout_s`). A probe is a
        status read plus one request bounded by the watch's timeout (`request_s`)."""
        if op == "probe":
            return self.status_s + request_s, "status_deadline_s"
        if op == "status" and not warm_up:
            return self.status_s, "status_deadline_s"
        if op == "discover":
            return self.discover_s, "discover_deadline_s"
        return self.restart_s, "restart_deadline_s"

    @classmethod
    def every(cls, seconds: float, cleanup_s: float | None = None) -> Deadlines:
        """The same deadline for every operation kind (tests, one-off tools)."""
        cleanup = cleanup_s if cleanup_s is not None else min(5.0, seconds / 4)
        return cls(status_s=seconds, discover_s=seconds, restart_s=seconds, cleanup_s=cleanup)


class SocketWatch:
    """The sockets one HTTP session opened (weakly held: closed ones simply drop out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._cut = False
        self.connections = 0  # TCP connections made (0: the host never accepted one)
        self.requests = 0  # HTTP requests sent, the authentication legs included (the benchmarks read it)

    def add(self, sock: socket.socket, *, new_connection: bool = False) -> None:
        with self._lock:
            self._sockets.add(sock)
            if new_connection:
                self.connections += 1
            cut = self._cut
        if cut:  # the deadline passed while this one was being made
            _shut(sock)

    def cut(self) -> None:
        """Shut every socket down: a read blocked on one returns at once (close() would not)."""
        with self._lock:
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def reset(self) -> None:
        """A fresh start for the next call on this session (the cut sockets are gone)."""
        with self._lock:
            self._cut = False
            self._sockets = weakref.WeakSet()


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown on an SSLSocket too: its own shutdown would unwrap TLS state that
    # another thread is reading with.
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Timers:
    """One thread fires every deadline of the process. A `threading.Timer` per arm started two
    threads per host per operation: a 50-host wave made a hundred, all competing for the
    interpreter the hosts' own requests need."""

    def __init__(self) -> None:
        self._wakeup = threading.Condition()
        self._due: list[tuple[float, int, Callable[[int], None]]] = []  # a heap by time
        self._live: set[int] = set()  # tokens scheduled and not cancelled
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, when: float, fire: Callable[[int], None]) -> int:
        """`fire(token)` runs on the timers' thread at `when`, unless cancelled first."""
        with self._wakeup:
            token = next(self._tokens)
            heapq.heappush(self._due, (when, token, fire))
            self._live.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="deadlines", daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return token

    def cancel(self, token: int) -> None:
        with self._wakeup:
            self._live.discard(token)  # its heap entry is dropped when it comes due

    def _next(self) -> tuple[int, Callable[[int], None]]:
        with self._wakeup:
            while True:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wakeup.wait()
                    continue
                delay = self._due[0][0] - time.monotonic()
                if delay <= 0:
                    _, token, fire = heapq.heappop(self._due)
                    self._live.discard(token)
                    return token, fire
                self._wakeup.wait(delay)

    def _loop(self) -> None:
        while True:
            token, fire = self._next()
            with contextlib.suppress(Exception):  # one deadline's cut must never stop the others'
                fire(token)


_timers = _Timers()


class Deadline:
    """A point in time after which a host call's sockets are cut. `arm(until)` (re)sets when,
    `disarm()` stops the timer; `phase` says what the call was doing, for the message."""

    def __init__(self, seconds: float, watch: SocketWatch, *, setting: str = "") -> None:
        self.seconds = seconds
        self.setting = setting
        self.started = time.monotonic()
        self.end = self.started + seconds  # fixed: what the messages and retries count from
        self.until = self.end  # when the timer fires: earlier while time is kept for the clean-up
        self.phase = "connecting"
        self.expired = False
        self._watch = watch
        self._lock = threading.Lock()
        self._timer: int | None = None  # its entry in _timers

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def arm(self, until: float | None = None) -> None:
        with self._lock:
            if until is not None:
                self.until = until
            if self._timer is not None:
                _timers.cancel(self._timer)
                self._timer = None
            if self.expired:
                return
            self._timer = _timers.schedule(self.until, self._expire)

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                _timers.cancel(self._timer)
                self._timer = None

    def cut_now(self) -> None:
        """End the call at once, as if its deadline had passed: the process is stopping and will
        not wait for it (its clean-up still runs, on a fresh connection and its own budget)."""
        with self._lock:
            if self._timer is not None:
                _timers.cancel(self._timer)
                self._timer = None
            self.expired = True
        self._watch.cut()

    def _expire(self, token: int) -> None:
        with self._lock:
            if self._timer != token:  # disarmed or re-armed while this one was coming due
                return
            self.expired = True
            self._timer = None
        self._watch.cut()

    def __enter__(self) -> Deadline:
        self.arm()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disarm()
