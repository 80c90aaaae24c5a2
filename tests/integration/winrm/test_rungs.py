"""Each rung, run by the real executor over WinRM against the simulated farm, really changes
what it promises (DOMAIN.md section 3) and reports it."""

from __future__ import annotations

import threading
from typing import Any

from bot.app.results import DiscoverResult, RestartResult, StatusResult
from bot.sim.farm import Farm
from bot.winrm.executor import WinRMExecutor


def _restart(result: Any) -> RestartResult:
    assert isinstance(result, RestartResult), result
    return result


def test_appdomain_restart_on_both_hosts_gives_new_appdomain_ids_and_keeps_the_pids(farm, executor, call):
    before = {name: farm.host(name).pids("ShopPool") for name in ("web01", "web02")}

    results = executor.run_many([call("shop-web", "web01", "appdomain"), call("shop-web", "web02", "appdomain")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r = _restart(result)
        assert r.ok, r.error
        assert r.appdomain_before and r.appdomain_after and r.appdomain_before != r.appdomain_after
        assert r.pids_before == r.pids_after == before[name] == farm.host(name).pids("ShopPool")
        assert r.warmup_status == 200


def test_apppool_recycle_on_both_hosts_replaces_every_worker_pid(farm, executor, call):
    results = executor.run_many([call("shop-web", "web01", "apppool"), call("shop-web", "web02", "apppool")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r = _restart(result)
        assert r.ok, r.error
        assert r.pids_before and r.pids_after and not set(r.pids_before) & set(r.pids_after)
        assert r.drained and r.state_before == r.state_after == "Started"
        assert r.pids_after == farm.host(name).pids("ShopPool")


def test_worker_kill_on_both_hosts_brings_up_new_pids_after_the_warm_up(farm, executor, call):
    results = executor.run_many([call("shop-web", "web01", "worker"), call("shop-web", "web02", "worker")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r = _restart(result)
        assert r.ok, r.error
        assert r.pids_after and not set(r.pids_before) & set(r.pids_after)
        assert r.warmup_status == 200
        assert r.pids_after == farm.host(name).pids("ShopPool")


def test_overlapped_recycle_starts_the_new_worker_before_the_old_one_exits(farm, executor, call, wait_until):
    web01 = farm.host("web01")
    old = web01.pids("ShopPool")
    seen_both = threading.Event()
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(executor.run(*call("shop-web", "web01", "apppool"))))
    runner.start()
    wait_until(lambda: len(web01.pids("ShopPool")) == 2, what="old and new worker side by side")
    seen_both.set()
    runner.join(timeout=10)

    r = _restart(results[0])
    assert r.ok and r.drained
    new = r.pids_after[0]
    started = {e.pid: e.at for e in web01.iis.events if e.kind == "start"}
    exited = {e.pid: e.at for e in web01.iis.events if e.kind == "exit"}
    assert started[new] < exited[old[0]]


def test_pool_that_disallows_overlapping_rotation_has_a_gap_with_no_worker(farm, executor, call):
    web01 = farm.host("web01")
    web01.pool("ShopPool").disallow_overlapping_rotation = True
    old = web01.pids("ShopPool")

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.ok, r.error
    started = {e.pid: e.at for e in web01.iis.events if e.kind == "start"}
    exited = {e.pid: e.at for e in web01.iis.events if e.kind == "exit"}
    assert exited[old[0]] <= started[r.pids_after[0]]


def test_on_demand_pool_without_traffic_has_no_worker_until_the_warm_up_starts_one(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.idle_out(web01.pool("ShopPool"))

    status = executor.run(*call("shop-web", "web01", "status"))
    assert isinstance(status, StatusResult) and status.ok
    assert status.start_mode == "OnDemand" and status.workers == []

    quiet = _restart(executor.run(*call("shop-web", "web01", "apppool", warmup_url="")))
    assert quiet.ok and quiet.pids_before == [] and quiet.pids_after == []

    warmed = _restart(executor.run(*call("shop-web", "web01", "apppool")))
    assert warmed.ok and warmed.pids_before == [] and len(warmed.pids_after) == 1


def test_web_garden_worker_rung_kills_every_worker_of_the_pool(farm, executor, call):
    web01 = farm.host("web01")
    web01.pool("ShopPool").max_processes = 2
    web01.iis.start_workers()
    garden = web01.pids("ShopPool")
    assert len(garden) == 2

    r = _restart(executor.run(*call("shop-web", "web01", "worker")))

    assert r.ok, r.error
    assert r.pids_before == garden
    assert r.pids_after and not set(garden) & set(r.pids_after)


def test_web_garden_recycle_drains_every_worker(farm, executor, call):
    web02 = farm.host("web02")
    web02.pool("ShopPool").max_processes = 3
    web02.iis.start_workers()

    r = _restart(executor.run(*call("shop-web", "web02", "apppool")))

    assert r.ok and r.drained and len(r.pids_before) == 3
    assert not set(r.pids_before) & set(web02.pids("ShopPool"))


def test_pool_stopped_by_rapid_fail_protection_refuses_the_recycle_with_the_reason(farm, executor, call):
    web01 = farm.host("web01")
    pool = web01.pool("ShopPool")
    for _ in range(farm.timing.rapid_fail_max):
        web01.iis.crash(pool)
    assert pool.state == "Stopped"

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    assert not r.ok
    assert r.error_code == "pool_stopped"
    assert r.error and "rapid-fail" in r.error and "ShopPool" in r.error
    assert web01.pool("ShopPool").state == "Stopped"  # reported, not restarted in a loop


def test_killing_workers_counts_towards_rapid_fail_and_the_kill_that_trips_it_says_so(executor, call):
    codes = [_restart(executor.run(*call("shop-web", "web01", "worker"))).error_code for _ in range(5)]

    assert codes[:4] == [None] * 4
    assert codes[4] == "pool_stopped"


def test_hung_worker_makes_the_recycle_report_not_finished_and_name_the_worker_rung(farm, executor, call):
    web01 = farm.host("web01")
    pool = web01.pool("ShopPool")
    pool.shutdown_time_limit_s = 0.3
    hung = web01.iis.hang_workers(pool)

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    assert not r.ok
    assert r.error_code == "recycle_not_finished"
    assert r.error and "worker rung" in r.error and str(hung[0]) in r.error
    assert hung[0] in r.pids_after and not r.drained

    freed = _restart(executor.run(*call("shop-web", "web01", "worker")))
    assert freed.ok and hung[0] not in freed.pids_after


def test_aspnet_wp_host_refuses_the_worker_and_apppool_rungs_and_says_why(farm, executor, call):
    worker = _restart(executor.run(*call("legacy", "web04", "worker")))
    apppool = _restart(executor.run(*call("legacy", "web04", "apppool")))

    assert worker.error_code == apppool.error_code == "iis5_isolation"
    assert worker.error and "aspnet_wp" in worker.error and "server rung" in worker.error
    status = executor.run(*call("legacy", "web04", "status"))
    assert isinstance(status, StatusResult)
    assert status.worker_process_name == "aspnet_wp" and status.iis_major_version == 6
    assert worker.pids_before == [] and [w.pid for w in status.workers] == farm.host("web04").iis.pids(
        farm.host("web04").iis.machine_process
    )


def test_appdomain_rung_still_works_on_the_aspnet_wp_host(executor, call):
    r = _restart(executor.run(*call("legacy", "web04", "appdomain", method="touch-web-config")))

    assert r.ok, r.error
    assert r.pids_before == r.pids_after and r.appdomain_before != r.appdomain_after


def test_app_offline_htm_refuses_every_restart_because_none_would_help(farm, executor, call):
    farm.host("web02").iis.app("Shop").app_offline = True

    for op in ("appdomain", "apppool", "worker"):
        r = _restart(executor.run(*call("shop-web", "web02", op)))
        assert r.error_code == "app_offline", op
        assert r.error and "app_offline.htm" in r.error
    status = executor.run(*call("shop-web", "web02", "status"))
    assert isinstance(status, StatusResult) and status.app_offline


def test_shared_pool_recycle_gives_both_apps_new_appdomains(farm, executor, call):
    web03 = farm.host("web03")
    root_before = web03.iis.appdomain_id(web03.iis.app("Intranet", "/"))

    r = _restart(executor.run(*call("intranet-api", "web03", "apppool")))

    assert r.ok, r.error
    executor.run(*call("intranet", "web03", "status"))  # nothing asked the root app yet
    assert web03.iis.appdomain_id(web03.iis.app("Intranet", "/")) != root_before


def test_core_app_appdomain_rung_touches_web_config_and_restarts_the_process(executor, call):
    refused = _restart(executor.run(*call("core-api", "web03", "appdomain", method="wmi-unload")))
    assert refused.error_code == "appdomain_not_restarted"

    r = _restart(executor.run(*call("core-api", "web03", "appdomain", method="touch-web-config")))
    assert r.ok, r.error
    assert r.appdomain_before is None and r.appdomain_after is None
    assert r.pids_after and not set(r.pids_before) & set(r.pids_after)


def test_unknown_site_app_and_pool_answer_with_their_error_codes(executor, call):
    site = executor.run(*call("shop-web", "web01", "status", iis_site="Nope"))
    app = executor.run(*call("shop-web", "web01", "apppool", app_path="/nope"))
    pool = executor.run(*call("shop-web", "web01", "worker", pool="NopePool"))

    assert (site.error_code, app.error_code, pool.error_code) == ("site_not_found", "app_not_found", "pool_not_found")


def test_pool_stuck_starting_fails_with_a_transition_timeout_after_a_bounded_poll(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.set_transition(web01.pool("ShopPool"), "Starting", for_s=float("inf"))

    r = _restart(executor.run(*call("shop-web", "web01", "apppool", timeout_s=0.3)))

    assert r.error_code == "pool_transition_timeout"
    assert r.state_before == "Starting"


def test_pool_briefly_starting_is_waited_for_and_then_recycled(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.set_transition(web01.pool("ShopPool"), "Starting", for_s=0.1)

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.ok, r.error


def test_was_stopped_refuses_restarts_and_points_at_a_human(farm, executor, call):
    farm.host("web01").iis.was_running = False

    r = _restart(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.error_code == "was_stopped"


def test_discover_lists_sites_apps_and_pools(executor, call):
    result = executor.run(*call("intranet", "web03", "discover"))

    assert isinstance(result, DiscoverResult) and result.ok
    apps = {(s.name, a.path, a.pool) for s in result.sites for a in s.apps}
    assert {("Intranet", "/", "SharedPool"), ("Intranet", "/api", "SharedPool"), ("CoreApi", "/", "CorePool")} <= apps
    assert {p.name: p.managed_runtime for p in result.pools} == {"SharedPool": "v4.0", "CorePool": ""}


def test_every_operation_takes_at_most_five_http_requests_per_host(farm: Farm, executor: WinRMExecutor, call):
    web01 = farm.host("web01")
    for op in ("status", "appdomain", "apppool", "worker", "discover"):
        web01.reset_counters()
        result = executor.run(*call("shop-web", "web01", op))
        assert result.ok, (op, result.error)
        assert web01.requests <= 5, (op, web01.actions)
        assert web01.actions == ["Create", "Command", "Send", "Receive", "Delete"], op
        assert web01.open_shells == 0


def test_ntlm_with_message_encryption_works_against_the_simulated_host(farm, executor, call):
    web01 = farm.host("web01")
    ntlm_host = farm.client_inventory(transport="ntlm").hosts["web01"]

    for op, handshake in (("status", 3), ("apppool", 0)):
        web01.reset_counters()
        result = executor.run("web01", ntlm_host, call("shop-web", "web01", op).params)
        assert result.ok, (op, result.error)
        assert web01.actions == ["Create", "Command", "Send", "Receive", "Delete"]
        assert web01.encrypted_requests == 5  # every SOAP message was sealed
        # the NTLM handshake (empty POST, negotiate, authenticate) only once: the session is reused
        assert web01.requests == 5 + handshake
    assert web01.open_shells == 0
