"""What a real IIS server does that would make an operation report a restart it cannot show, each a
switch of the simulated server whose default is the real (conservative) behaviour
(docs/iis-behaviour.md): the operation runs through real WinRM against the farm, and
bot.app.verification judges what it saw as it would judge a real host."""

from __future__ import annotations

from typing import Any

from bot.app.results import RestartResult
from bot.app.verification import Verdict, judge
from commands.rungs import Rung


def _restart(result: Any) -> RestartResult:
    assert isinstance(result, RestartResult), result
    return result


def _verdict(result: Any, pool: str = "ShopPool") -> Verdict:
    r = _restart(result)
    return judge(Rung(r.op), pool, r)


def _keys(workers) -> set[tuple[int, str]]:
    return {(w.pid, w.started_at) for w in workers}


# ---- an overlapped recycle: the old worker answers until the new one is ready --------------------


def test_after_a_recycle_the_warm_up_reaches_the_new_worker_not_the_old_one_that_still_answers(farm, executor, call):
    iis = farm.host("web01").iis
    assert iis.old_worker_serves_overlap  # the default farm routes to the old worker during the overlap

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    verdict = _verdict(r)
    assert verdict.error_code is None and {"new_worker", "app_answered"} <= set(verdict.evidence)
    new = _keys(r.after.workers) if r.after else set()
    last = r.warmups[-1]
    assert last.workers_seen is not None and not _keys(last.workers_seen) & _keys(r.before.workers if r.before else [])
    # The app was asked in the new worker: its AppDomain lives there now.
    domain = iis.app("Shop").appdomain
    assert domain is not None and domain.worker_pid in {pid for pid, _ in new}
