"""What a real IIS server does that would make an operation report a restart it cannot show, each a
switch of the simulated server whose default is the real (conservative) behaviour
(docs/iis-behaviour.md): the operation runs through real WinRM against the farm, and
bot.app.verification judges what it saw as it would judge a real host."""

from __future__ import annotations

from restart_results import restart_of, verdict_of, worker_keys

from bot.app.verification import host_outcome
from bot.sim.farm import Farm
from bot.sim.iis import OUT_OF_PROCESS
from bot.sim.timing import SimTiming
from bot.winrm.deadline import Deadlines
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import default_policy
from policies.planner import plan

# ---- an overlapped recycle: the old worker answers until the new one is ready --------------------


def test_after_a_recycle_the_warm_up_reaches_the_new_worker_not_the_old_one_that_still_answers(farm, executor, call):
    iis = farm.host("web01").iis
    assert iis.old_worker_serves_overlap  # the default farm routes to the old worker during the overlap

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    verdict = verdict_of(r)
    assert verdict.error_code is None and {"new_worker", "app_answered"} <= set(verdict.evidence)
    new = worker_keys(r.after.workers) if r.after else set()
    last = r.warmups[-1]
    before = worker_keys(r.before.workers if r.before else [])
    assert last.workers_seen is not None and not worker_keys(last.workers_seen) & before
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

    r = restart_of(executor.run(*call("intranet-api", "web03", "appdomain", warmup_url=f"{base}/api")))

    verdict = verdict_of(r, "SharedPool")
    assert [w.status for w in r.warmups[:2]] == [301, 200] and r.warmups[1].url.endswith("/api/")
    assert r.warmups[1].host_header == r.warmups[0].host_header  # the same host, on the same address
    assert verdict.error_code is None and "app_answered" in verdict.evidence


def test_a_redirect_to_another_host_is_not_followed_and_never_counts_as_the_app_answering(farm, executor, call):
    farm.host("web01").iis.sites["Shop"].native_redirects["/"] = "https://login.example/"

    unloaded = restart_of(executor.run(*call("shop-web", "web01", "appdomain", timeout_s=1)))
    recycled = restart_of(executor.run(*call("shop-web", "web01", "apppool")))
    none = executor.run(*call("shop-web", "web01", "status", warm_up=True))

    assert {w.status for w in unloaded.warmups} == {301} and {w.location for w in unloaded.warmups} == {
        "https://login.example/"}
    no_app = verdict_of(unloaded)
    assert no_app.error_code == "appdomain_not_restarted" and "URL Rewrite" in (no_app.error or "")
    pool = verdict_of(recycled)  # the new worker is shown; the app is not, and may still be cold
    assert pool.error_code is None and "app_answered" not in pool.evidence and "new_worker" in pool.evidence
    assert any("redirect" in note for note in pool.notes)
    none_plan = plan(RestartRequest(site="shop-web", changed=("bin/x.dll",)), farm.inventory, default_policy())
    assert none_plan.rung == Rung.NONE
    outcome = host_outcome(none_plan, "web01", none, 0)
    assert outcome.error_code == "not_verified" and "redirect" in (outcome.error or "")


# ---- ASP.NET Core: told by its ANCM handler, its process by processPath ------------------------------


def test_an_out_of_process_core_app_hosted_as_its_own_exe_is_found_and_its_console_host_is_not(
    farm, executor, call
):
    app = farm.host("web03").iis.app("CoreApi")
    app.hosting_model = OUT_OF_PROCESS
    assert app.process_name == "MyApp.exe"  # since .NET Core 3.0 ANCM runs the app's own executable
    executor.run(*call("core-api", "web03", "status", warm_up=True))  # the first request starts it

    r = restart_of(executor.run(*call("core-api", "web03", "appdomain")))

    verdict = verdict_of(r, "CorePool")
    assert verdict.error_code is None and "dotnet_child_restarted" in verdict.evidence
    assert r.before and r.after and len(r.before.children) == 1 and len(r.after.children) == 1  # no conhost.exe
    assert app.child is not None and r.after.children[0].pid == app.child.pid


def test_a_core_app_in_a_v4_pool_is_restarted_as_core_and_a_static_site_in_a_no_managed_code_pool_is_refused(
    farm, executor, call
):
    iis = farm.host("web03").iis
    iis.pool("CorePool").managed_runtime = "v4.0"  # the runtime version does not say what the app is

    core = restart_of(executor.run(*call("core-api", "web03", "appdomain", timeout_s=2)))

    assert core.method == "touch-web-config" and core.settings and core.settings.aspnet_core
    assert verdict_of(core, "CorePool").error_code is None

    iis.pool("SharedPool").managed_runtime = ""  # static files: no managed runtime and no ANCM handler
    static = restart_of(executor.run(*call("intranet", "web03", "appdomain")))

    assert static.error_code == "bad_parameters" and static.actions == []
    assert "--scope apppool" in (static.error or "")


# ---- after the act: nothing ends the operation without its after-state -----------------------------


def test_a_failed_read_after_the_recycle_is_recorded_and_read_again_not_the_end_of_the_operation(
    farm, executor, call
):
    iis = farm.host("web01").iis
    iis.reads_before_failure, iis.failing_reads = 1, 2  # the look before acting succeeds, the next two fail

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    verdict = verdict_of(r)
    assert r.ok and r.after is not None and len(r.look_errors) == 2 and "busy" in r.look_errors[0]
    assert verdict.error_code is None and "new_worker" in verdict.evidence
    assert any("failed and were repeated" in note for note in verdict.notes)


def test_when_no_read_after_the_act_succeeds_the_step_done_is_reported_and_nothing_is_claimed(farm, executor, call):
    iis = farm.host("web01").iis
    iis.reads_before_failure, iis.failing_reads = 1, 10_000

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", timeout_s=0.5)))

    verdict = verdict_of(r)
    assert r.ok and [a.step for a in r.actions] == ["recycle"] and r.after is None and r.look_errors
    assert verdict.error_code == "not_verified" and "recycle" in (verdict.error or "")


def test_a_site_bound_only_to_a_wildcard_host_name_is_warmed_up_with_a_name_under_it(farm, executor, call):
    from bot.sim.iis import Binding

    site = farm.host("web01").iis.sites["Shop"]
    port = site.bindings[0].port
    site.bindings = [Binding("http", "*", port, "*.shop.sim")]  # IIS 10: any name under shop.sim

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.warmups[-1].host_header == f"aspreset-warmup.shop.sim:{port}" and r.warmups[-1].status == 200
    assert verdict_of(r).error_code is None


# ---- HTTP.sys without its Server header ------------------------------------------------------------


def test_http_sys_answering_itself_is_told_by_its_fixed_page_when_its_server_header_is_hidden(
    farm, client, executor, call
):
    web02 = farm.host("web02")
    assert web02.iis.http_sys_hides_server_header  # the default farm hardens some hosts
    port = web02.http_port

    unrouted = restart_of(executor.run(*call("shop-web", "web02", "apppool", warmup_url=f"http://nobody.example:{port}/")))
    web02.pool("ShopPool").state = "Stopped"
    stopped = executor.run(*call("shop-web", "web02", "status", warm_up=True))

    answer = unrouted.warmups[-1]
    assert (answer.status, answer.server) == (400, "")
    assert answer.error_line == "HTTP Error 400. The request hostname is invalid."
    assert unrouted.wait_ended == "not_routed" and len(unrouted.warmups) == 1
    verdict = verdict_of(unrouted)
    assert verdict.error_code == "warmup_failed" and "Invalid Hostname" in (verdict.error or "")
    none_plan = plan(RestartRequest(site="shop-web", changed=("bin/x.dll",)), farm.inventory, default_policy())
    outcome = host_outcome(none_plan, "web02", stopped, 0)
    assert outcome.error_code == "warmup_failed" and "503" in (outcome.error or "")


# ---- the machine-wide restart counter --------------------------------------------------------------


def test_an_unload_that_did_not_take_is_not_restarted_although_other_apps_moved_the_counter(farm, executor, call):
    iis = farm.host("web01").iis
    assert iis.other_app_restarts_per_read > 0  # the default farm: other apps restart meanwhile
    iis.unload_takes = False  # Unload() returns, the entry stays

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", timeout_s=1)))

    verdict = verdict_of(r)
    assert r.before and r.after and (r.after.app_restarts or 0) > (r.before.app_restarts or 0)
    assert verdict.error_code == "appdomain_not_restarted" and "entry_left" not in verdict.evidence


def test_the_none_rung_reports_the_state_before_its_warm_up_and_after_it_as_two_looks(farm, executor, call):
    iis = farm.host("web01").iis
    iis.idle_out(iis.pool("ShopPool"))  # no worker until the warm-up starts one

    status = executor.run(*call("shop-web", "web01", "status", warm_up=True))

    none_plan = plan(RestartRequest(site="shop-web", changed=("bin/x.dll",)), farm.inventory, default_policy())
    outcome = host_outcome(none_plan, "web01", status, 0)
    assert outcome.error_code is None
    assert outcome.pids_before == [] and outcome.appdomain_before is None
    assert len(outcome.pids_after) == 1 and outcome.appdomain_after


# ---- rapid-fail protection counts the app's own crashes --------------------------------------------


def test_a_kill_that_the_apps_own_crashes_would_make_trip_rapid_fail_protection_is_refused(farm, executor, call):
    iis = farm.host("web01").iis
    pool = iis.pool("ShopPool")
    for _ in range(pool.rapid_fail_max - 1):  # the app crashed four times: WAS logged 5009 each time
        iis.crash(pool)
    iis.start_workers()
    before = farm.host("web01").processes("ShopPool")

    r = restart_of(executor.run(*call("shop-web", "web01", "worker")))

    assert r.error_code == "rapid_fail_risk" and r.crashes_seen == pool.rapid_fail_max - 1
    assert [a.step for a in r.actions if a.step == "kill"] == [] and farm.host("web01").processes("ShopPool") == before
    assert iis.pool("ShopPool").state == "Started" and "--scope apppool" in (r.error or "")


def test_a_kill_is_refused_when_the_was_events_cannot_be_read(farm, executor, call):
    iis = farm.host("web01").iis
    iis.was_events_readable = False

    r = restart_of(executor.run(*call("shop-web", "web01", "worker")))

    assert r.error_code == "rapid_fail_risk" and "could not be read" in (r.error or "")
    assert not [a for a in r.actions if a.step == "kill"]


# ---- a cold start that stumbles --------------------------------------------------------------------


def test_a_500_while_the_app_starts_is_asked_again_within_the_wait(farm, executor, call):
    app = farm.host("web01").iis.app("Shop")
    app.failing_requests = 2  # the first two requests after the unload fail

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain")))

    assert [w.status for w in r.warmups] == [500, 500, 200] and r.wait_ended == "condition"
    assert verdict_of(r).error_code is None


def test_an_app_that_keeps_failing_is_reported_when_the_wait_ends(farm, executor, call):
    farm.host("web01").iis.app("Shop").failing_requests = 10_000

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", timeout_s=0.5)))

    verdict = verdict_of(r)
    assert r.wait_ended == "deadline" and len(r.warmups) > 1 and {w.status for w in r.warmups} == {500}
    assert verdict.error_code == "warmup_failed" and "HTTP 500" in (verdict.error or "")


# ---- checks before acting ---------------------------------------------------------------------------


def test_a_stopped_site_is_refused_before_anything_is_done(farm, executor, call):
    farm.host("web01").iis.sites["Shop"].state = "Stopped"
    before = farm.host("web01").processes("ShopPool")

    results = [restart_of(executor.run(*call("shop-web", "web01", op))) for op in ("appdomain", "apppool", "worker")]

    assert [r.error_code for r in results] == ["site_stopped"] * 3
    assert all(r.actions == [] for r in results) and farm.host("web01").processes("ShopPool") == before
