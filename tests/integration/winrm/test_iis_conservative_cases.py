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


# ---- the none rung: a cold start longer than a status call ----------------------------------------


def test_the_none_rungs_warm_up_waits_out_a_cold_start_longer_than_the_status_deadline(inventory, call):
    from bot.sim.farm import Farm
    from bot.sim.timing import SimTiming
    from bot.winrm.deadline import Deadlines
    from bot.winrm.executor import WinRMExecutor
    from bot.winrm.transport import Timeouts

    cold = SimTiming(worker_start_s=0.02, drain_s=0.05, poll_s=0.01, cold_start_s=1.5)
    deadlines = Deadlines(status_s=1.0, discover_s=1.0, restart_s=6.0, cleanup_s=0.4)
    executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=10, max_operation_s=5), deadlines=deadlines)
    with Farm.from_inventory(inventory, timing=cold) as farm:
        iis = farm.host("web01").iis
        iis.idle_out(iis.pool("ShopPool"))  # the next request starts a worker and compiles the app
        client = farm.client_inventory()
        params = call("shop-web", "web01", "status", warm_up=True, timeout_s=4).params.model_copy(
            update={"warmup_url": f"{client.hosts['web01'].warmup_base_url}/"})
        r = executor.run("web01", client.hosts["web01"], params)

    assert r.ok and r.warmups and r.warmups[-1].status == 200 and r.warmups[-1].ms >= 1500
