"""How long things take in the simulated farm. Real IIS drains for up to 90 s; tests want
milliseconds. Every wait in the simulator is bounded by one of these or by the operation's own
deadline (`OperationParams.timeout_s`)."""

from __future__ import annotations

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
    """How long an application's first request takes after its AppDomain (or ASP.NET Core process)
    started: compilation and caches. Real apps take seconds to minutes (DOMAIN.md section 9)."""

    @classmethod
    def interactive(cls) -> SimTiming:
        """What `aspreset sim` serves by default: cold starts of seconds, as a real app has."""
        return cls(cold_start_s=2.0)

    @classmethod
    def fast(cls) -> SimTiming:
        """Small times for tests and benchmarks."""
        return cls(worker_start_s=0.02, drain_s=0.15, transition_s=0.1, poll_s=0.01)
