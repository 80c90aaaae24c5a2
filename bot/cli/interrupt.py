"""Ctrl-C and SIGTERM while a restart runs. The first stops new hosts from starting and lets the
ones in flight finish (each bounded by its own deadline), so the request is recorded with what ran,
what did not and the command that resumes. The second abandons the wait: the request is recorded
`interrupted` with what is known, the terminal restored, the shells of the hosts still restarting
deleted if that takes at most ABANDON_S, and the command exits 130. Later signals change nothing."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells expect of a command stopped by Ctrl-C
ABANDON_S = 2.0  # at most this long after the second signal, deleting the shells of the hosts in flight

FIRST = (
    "aspreset: stopping: no more hosts will start; the hosts already restarting finish within their "
    "deadlines and are recorded. Press Ctrl-C again to stop waiting (their results are then unknown)."
)


class Interrupts:
    """Counts the signals; `stop` is what the rollout reads before starting each host."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.stop.set()
            print(FIRST, file=sys.stderr, flush=True)
            return
        if self.count == 2:
            raise KeyboardInterrupt  # in the main thread: the wait on the hosts ends here
        # later ones: the process is already ending, within ABANDON_S


@contextmanager
def stop_gracefully(stop: threading.Event) -> Iterator[Interrupts]:
    """SIGINT and SIGTERM handled as above while the block runs; the previous handlers after."""
    interrupts = Interrupts(stop)
    if threading.current_thread() is not threading.main_thread():
        yield interrupts  # signals reach only the main thread; nothing to install
        return
    previous = {sig: signal.signal(sig, interrupts) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield interrupts
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
