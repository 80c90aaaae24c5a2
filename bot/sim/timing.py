"""How long things take in the simulated farm. Real IIS drains for up to 90 s; tests want
milliseconds. Every wait in the simulator is bounded by one of these or by the operation's own
deadline (`OperationParams.timeout_s`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class SimTiming:
    worker_start_s: float = 0.05
    """From spawning a worker process until it serves its first request."""
    drain_s: float = 0.25
    """How long an old worker keeps running after an overlapped recycle (requests in flight)."""
    shutdown_time_limit_s: float = 90.0
    """Default `processModel.shutdownTimeLimit` of every pool (a test may set one pool lower)."""
    transition_s: float = 0.1
    """How long a pool stays Starting/Stopping when a test puts it there without a duration."""
    poll_s: float = 0.02
    """Upper bound of the simulated scripts' polling interval (they also honour `poll_ms`)."""
    max_receive_wait_s: float | None = None
    """Cap on how long a Receive waits before its TimedOut fault; None honours the client's
    OperationTimeout exactly as Windows does."""
    rapid_fail_max: int = 5
    """Rapid-fail protection: the pool stops after this many crashes or kills..."""
    rapid_fail_window_s: float = 300.0
    """...within this window."""
    request_timeout_s: float = 10.0
    """How long a warm-up request waits for a worker before answering 503."""
    cold_start_s: float = 0.0
    """How long the first request to a new AppDomain takes (ASP.NET compiling the app): what a
    warm-up waits for after an appdomain restart, a recycle or a kill. Benchmarks set 1 s."""

    @classmethod
    def bench(cls, *, recycle_s: float = 2.0, cold_start_s: float = 1.0) -> SimTiming:
        """A farm whose restarts take a realistic shape in seconds: an old worker drains for
        `recycle_s` after a recycle, a new AppDomain compiles for `cold_start_s`."""
        return cls(worker_start_s=0.05, drain_s=recycle_s, poll_s=0.02, cold_start_s=cold_start_s)

    @classmethod
    def interactive(cls) -> SimTiming:
        """What `aspreset sim` serves without flags: cold starts of seconds, as a real app has."""
        return cls(cold_start_s=2.0)

    @classmethod
    def fast(cls) -> SimTiming:
        """Small times for tests and benchmarks."""
        return cls(worker_start_s=0.02, drain_s=0.15, transition_s=0.1, poll_s=0.01)


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """`aspreset sim` flags that make restarts take time (for benchmarks)."""
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every WinRM answer (e.g. 20)")
    parser.add_argument("--recycle-s", type=float, default=None,
                        help="how long an old worker drains after a recycle (e.g. 2)")
    parser.add_argument("--cold-start-s", type=float, default=None,
                        help="how long a new AppDomain's first request compiles (e.g. 1)")


def timing_from_arguments(args: argparse.Namespace) -> tuple[SimTiming | None, float]:
    """(timing, latency in seconds) from the flags; None keeps the farm's default timing."""
    for flag, value in (("--latency-ms", args.latency_ms), ("--recycle-s", args.recycle_s),
                        ("--cold-start-s", args.cold_start_s)):
        if value is not None and value < 0:
            raise ValueError(f"{flag} must be 0 or more, got {value:g}")
    timing = None
    if args.recycle_s is not None or args.cold_start_s is not None:
        timing = SimTiming.bench(recycle_s=2.0 if args.recycle_s is None else args.recycle_s,
                                 cold_start_s=1.0 if args.cold_start_s is None else args.cold_start_s)
    return timing, args.latency_ms / 1000
