"""What one probe of one host shows, judged once for real hosts and the simulator alike: hung
(no answer within the watch's timeout while the worker lives), failing (5xx from the app, or no
answer at all), the pool stopped (Stopped, or HTTP.sys' own 503), slow (over `slow_ms`), restarted on
its own (a worker that is not the one seen last time, with no request of ours in between), memory
(a worker's private bytes over `memory_mb`), or unreachable (the probe itself could not run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.app.errors import ExecutionError
from bot.app.results import OperationResult, ProbeResult, ProbeWorker, WarmupAnswer
from bot.app.verification import answered_by_http_sys
from policies.watch import Watch

MIB = 1024 * 1024


class Kind(StrEnum):
    """What is wrong on a host; an incident is one site, one host, one kind."""

    POOL_STOPPED = "pool_stopped"
    HUNG = "hung"
    FAILING = "failing"
    MEMORY = "memory"
    SLOW = "slow"
    RESTARTED = "restarted"
    UNREACHABLE = "unreachable"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Kind.POOL_STOPPED: "pool stopped",
    Kind.HUNG: "hung",
    Kind.FAILING: "failing",
    Kind.MEMORY: "memory",
    Kind.SLOW: "slow",
    Kind.RESTARTED: "restarted on its own",
    Kind.UNREACHABLE: "unreachable",
}


@dataclass(frozen=True)
class Finding:
    kind: Kind
    evidence: str  # one sentence a person can check


@dataclass(frozen=True)
class Reading:
    """One probe of one host, with what it showed (empty `findings`: healthy)."""

    host: str
    findings: tuple[Finding, ...]
    ms: int | None = None  # the answer's latency; None: no answer
    status: int | None = None
    pool_state: str = ""
    workers: tuple[ProbeWorker, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.findings

    def kinds(self) -> frozenset[Kind]:
        return frozenset(f.kind for f in self.findings)


def classify(
    host: str,
    outcome: OperationResult | ExecutionError,
    watch: Watch,
    previous_workers: Sequence[ProbeWorker] | None = None,
    ours_ran: bool = False,
) -> Reading:
    """Judge one probe. `previous_workers`: the workers the last probe of this host saw (None: no
    last probe); `ours_ran`: a request of ours ran on this host since then (its new worker is ours)."""
    if isinstance(outcome, ExecutionError):
        return Reading(host, (Finding(Kind.UNREACHABLE, f"the probe could not run: {outcome}"),))
    if not isinstance(outcome, ProbeResult):
        return Reading(host, (Finding(Kind.UNREACHABLE, f"the host answered a {outcome.op} result, not a probe"),))
    if not outcome.ok:
        why = f"{outcome.error_code}: {outcome.error}" if outcome.error_code else (outcome.error or "no reason given")
        return Reading(host, (Finding(Kind.UNREACHABLE, f"the probe failed on the host ({why})"),),
                       pool_state=outcome.pool_state)
    answer = outcome.warmups[-1] if outcome.warmups else None
    workers = tuple(outcome.workers)
    findings = [*_answer_findings(outcome, answer, watch),
                *_worker_findings(workers, watch, previous_workers, ours_ran)]
    return Reading(
        host,
        tuple(findings),
        ms=answer.ms if answer is not None and answer.status is not None else None,
        status=answer.status if answer is not None else None,
        pool_state=outcome.pool_state,
        workers=workers,
    )


def _answer_findings(result: ProbeResult, answer: WarmupAnswer | None, watch: Watch) -> list[Finding]:
    if result.pool_state == "Stopped" or (answer is not None and answer.status == 503 and answered_by_http_sys(answer)):
        return [Finding(Kind.POOL_STOPPED, _stopped_evidence(result, answer))]
    if answer is None:
        return [Finding(Kind.FAILING, "the probe sent no request (the site has no binding to reach it through)")]
    if answer.status is None:
        if answer.failure.lower() == "timeout" and result.workers:
            pids = ", ".join(str(w.pid) for w in result.workers)
            return [Finding(Kind.HUNG, f"no answer within {watch.timeout_s:g} s while worker {pids} lives")]
        return [Finding(Kind.FAILING, f"no answer from {answer.url} ({answer.failure or 'no reason given'}), "
                                      f"{len(result.workers)} worker(s)")]
    if answer.status >= 500:
        return [Finding(Kind.FAILING, f"HTTP {answer.status} from the application in {answer.ms} ms")]
    if watch.slow_ms is not None and answer.ms > watch.slow_ms:
        return [Finding(Kind.SLOW, f"answered HTTP {answer.status} in {answer.ms} ms (slow over {watch.slow_ms} ms)")]
    return []


def _stopped_evidence(result: ProbeResult, answer: WarmupAnswer | None) -> str:
    seen = f"the pool is {result.pool_state or 'not Started'}"
    if answer is not None and answer.status == 503 and answered_by_http_sys(answer):
        seen += "; HTTP.sys itself answers 503 Service Unavailable"
    if result.rapid_fail_stop_at:
        return (f"{seen}; WAS logged rapid-fail protection stopping it at {result.rapid_fail_stop_at} (event 5002): "
                "its workers kept failing; find why (the Application log) before starting it again")
    return f"{seen}; no rapid-fail event (5002) in the System log: stopped by a person or a script"


def _worker_findings(
    workers: tuple[ProbeWorker, ...], watch: Watch, previous: Sequence[ProbeWorker] | None, ours_ran: bool
) -> list[Finding]:
    findings = []
    limit = watch.memory_bytes
    heavy = [w for w in workers if limit is not None and w.private_bytes is not None and w.private_bytes > limit]
    if heavy:
        worst = max(heavy, key=lambda w: w.private_bytes or 0)
        findings.append(Finding(Kind.MEMORY, f"worker {worst.pid} holds {(worst.private_bytes or 0) // MIB} MiB of "
                                             f"private bytes (over {watch.memory_mb} MiB)"))
    if previous and not ours_ran:
        before = {(w.pid, w.started_at) for w in previous}
        new = [w for w in workers if (w.pid, w.started_at) not in before]
        gone = [w for w in previous if (w.pid, w.started_at) not in {(n.pid, n.started_at) for n in workers}]
        if new and gone:
            findings.append(Finding(Kind.RESTARTED, f"worker {_pids(gone)} was replaced by {_pids(new)} "
                                                    f"(started {new[0].started_at}) with no request of ours"))
    return findings


def _pids(workers: Sequence[ProbeWorker]) -> str:
    return ", ".join(str(w.pid) for w in workers)
