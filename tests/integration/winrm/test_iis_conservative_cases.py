"""What a real IIS server does that would make an operation report a restart it cannot show, each a
switch of the simulated server whose default is the real (conservative) behaviour
(docs/iis-behaviour.md): the operation runs through real WinRM against the farm, and
bot.app.verification judges what it saw as it would judge a real host."""

from __future__ import annotations

from typing import Any

from bot.app.results import RestartResult
from bot.app.verification import Verdict, host_outcome, judge
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.winrm.deadline import Deadlines
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import default_policy
from policies.planner import plan


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


# ---- redirects answered by native modules, before ASP.NET runs --------------------------------------


def test_a_redirect_to_the_same_host_is_followed_once_and_the_app_behind_it_answers(farm, client, executor, call):
    web03 = farm.host("web03")
    assert web03.iis.courtesy_redirects  # IIS answers /api with a 301 to /api/ before ASP.NET runs
    base = client.hosts["web03"].warmup_base_url

    r = _restart(executor.run(*call("intranet-api", "web03", "appdomain", warmup_url=f"{base}/api")))

    verdict = _verdict(r, "SharedPool")
    assert [w.status for w in r.warmups[:2]] == [301, 200] and r.warmups[1].url.endswith("/api/")
    assert r.warmups[1].host_header == r.warmups[0].host_header  # the same host, on the same address
    assert verdict.error_code is None and "app_answered" in verdict.evidence


def test_a_redirect_to_another_host_is_not_followed_and_never_counts_as_the_app_answering(farm, executor, call):
    farm.host("web01").iis.sites["Shop"].native_redirects["/"] = "https://login.example/"

    unloaded = _restart(executor.run(*call("shop-web", "web01", "appdomain", timeout_s=1)))
    recycled = _restart(executor.run(*call("shop-web", "web01", "apppool")))
    none = executor.run(*call("shop-web", "web01", "status", warm_up=True))

    assert {w.status for w in unloaded.warmups} == {301} and {w.location for w in unloaded.warmups} == {
        "https://login.example/"}
    no_app = _verdict(unloaded)
    assert no_app.error_code == "appdomain_not_restarted" and "URL Rewrite" in (no_app.error or "")
    pool = _verdict(recycled)  # the new worker is shown; the app is not, and may still be cold
    assert pool.error_code is None and "app_answered" not in pool.evidence and "new_worker" in pool.evidence
    assert any("redirect" in note for note in pool.notes)
    none_plan = plan(RestartRequest(site="shop-web", changed=("bin/x.dll",)), farm.inventory, default_policy())
    assert none_plan.rung == Rung.NONE
    outcome = host_outcome(none_plan, "web01", none, 0)
    assert outcome.error_code == "not_verified" and "redirect" in (outcome.error or "")
