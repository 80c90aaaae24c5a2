"""Judging what a host reported against what its rung promises (DOMAIN.md section 3), for real hosts
and the simulator alike, so a script bug cannot report a restart that did not happen."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.app.errors import ExecutionError
from bot.app.results import OperationResult, RestartResult, StatusResult
from commands.rungs import Rung
from policies.planner import Plan


@dataclass(frozen=True)
class HostOutcome:
    host: str
    rung: str
    method: str
    pids_before: list[int]
    pids_after: list[int]
    appdomain_before: str | None
    appdomain_after: str | None
    warmup_status: int | None
    warmup_ms: int | None
    duration_ms: int
    outcome: str  # succeeded | failed
    error: str | None = None
    error_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)



def host_outcome(
    plan: Plan, host: str, result: OperationResult | ExecutionError, warmup: tuple[int | None, int] | None, elapsed: int
) -> HostOutcome:
    base = {"host": host, "rung": plan.rung.value, "method": plan.method}
    if isinstance(result, ExecutionError):
        return HostOutcome(**base, pids_before=[], pids_after=[], appdomain_before=None, appdomain_after=None,
                           warmup_status=None, warmup_ms=None, duration_ms=elapsed, outcome="failed",
                           error=result.detail, error_code=result.code)
    if isinstance(result, StatusResult):  # the `none` rung: warm-up from the bot, then read state
        status, ms = warmup or (None, 0)
        pids = [w.pid for w in result.workers]
        error = _verify_none(result, status)
        return HostOutcome(**base, pids_before=pids, pids_after=pids, appdomain_before=result.appdomain_id,
                           appdomain_after=result.appdomain_id, warmup_status=status, warmup_ms=ms,
                           duration_ms=elapsed, outcome="failed" if error else "succeeded", error=error,
                           error_code=result.error_code or ("not_verified" if error else None))
    assert isinstance(result, RestartResult)
    error = result.error if not result.ok else _verify(plan.rung, result)
    code = result.error_code if not result.ok else ("not_verified" if error else None)
    return HostOutcome(**base, pids_before=result.pids_before, pids_after=result.pids_after,
                       appdomain_before=result.appdomain_before, appdomain_after=result.appdomain_after,
                       warmup_status=result.warmup_status, warmup_ms=result.warmup_ms,
                       duration_ms=result.duration_ms, outcome="failed" if error else "succeeded",
                       error=error, error_code=code)


def _verify_none(result: StatusResult, warmup_status: int | None) -> str | None:
    if not result.ok:
        return result.error or "status could not be read"
    if result.app_offline:
        return "app_offline.htm is present: the app serves the offline page until it is removed; no restart helps"
    if warmup_status is None or warmup_status >= 500:
        return f"warm-up did not answer well (HTTP {warmup_status}); the app may not have restarted cleanly"
    if not result.workers:
        return "no worker process serves the pool after warm-up"
    return None


def _verify(rung: Rung, result: RestartResult) -> str | None:
    before, after = set(result.pids_before), set(result.pids_after)
    if rung == Rung.APPDOMAIN:
        if result.appdomain_before is not None and result.appdomain_after is None:
            return "no AppDomain answered after the restart: the app did not come back (check the warm-up URL)"
        if result.appdomain_before is not None and result.appdomain_before == result.appdomain_after:
            return "the AppDomain id did not change: the app was not restarted (try --scope apppool)"
        return None
    if not after:
        return "no worker process serves the pool after warm-up"
    if before & after:
        kept = ", ".join(str(p) for p in sorted(before & after))
        hint = "--reason hung kills it" if rung == Rung.APPPOOL else "it survived the kill"
        return f"old worker process(es) {kept} still running: the {rung.value} restart did not finish ({hint})"
    return None
