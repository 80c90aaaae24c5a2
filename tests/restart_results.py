"""What the WinRM integration tests read from a host's restart: the result itself, the judge's
verdict on it and its workers as (PID, start time), since Windows reuses PIDs."""

from __future__ import annotations

from typing import Any

from bot.app.results import RestartResult
from bot.app.verification import Verdict, judge
from commands.rungs import Rung


def restart_of(result: Any) -> RestartResult:
    assert isinstance(result, RestartResult), result
    return result


def verdict_of(result: Any, pool: str = "ShopPool") -> Verdict:
    r = restart_of(result)
    return judge(Rung(r.op), pool, r)


def worker_keys(workers) -> set[tuple[int, str]]:
    return {(w.pid, w.started_at) for w in workers}
