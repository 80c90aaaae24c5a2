"""Each rung, run by the real executor over WinRM against the simulated farm, really changes
what it promises (docs/iis-behaviour.md), and bot.app.verification, which judges real hosts too,
says so from the host's observations."""

from __future__ import annotations

import threading
from typing import Any

from restart_results import restart_of, verdict_of, worker_keys

from bot.app.results import DiscoverResult, RestartResult, StatusResult
from bot.sim.farm import Farm
from bot.winrm.executor import WinRMExecutor


def _pids(workers) -> list[int]:
    return sorted(w.pid for w in workers)


def test_appdomain_restart_on_both_hosts_is_verified_although_the_appdomain_id_never_changes(farm, executor, call):
    before = {name: farm.host(name).pids("ShopPool") for name in ("web01", "web02")}

    results = executor.run_many([call("shop-web", "web01", "appdomain"), call("shop-web", "web02", "appdomain")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r, verdict = restart_of(result), verdict_of(result)
        assert r.ok and verdict.error_code is None, (r.error, verdict.error)
        assert r.before and r.acted and r.after and r.before.appdomains and r.after.appdomains
        # The conservative case (docs/iis-behaviour.md): the Id is the app's path and stays the same.
        assert [e.id for e in r.before.appdomains] == [e.id for e in r.after.appdomains] == ["/LM/W3SVC/1/ROOT"]
        assert {"entry_left", "entry_back_in_same_worker", "restart_counter_grew"} <= set(verdict.evidence)
        assert "id_changed" not in verdict.evidence
        assert worker_keys(r.before.workers) == worker_keys(r.after.workers)
        assert _pids(r.after.workers) == before[name] == farm.host(name).pids("ShopPool")
        assert r.warmups[-1].status == 200


def test_apppool_recycle_on_both_hosts_replaces_every_worker_pid(farm, executor, call):
    results = executor.run_many([call("shop-web", "web01", "apppool"), call("shop-web", "web02", "apppool")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r, verdict = restart_of(result), verdict_of(result)
        assert verdict.error_code is None, verdict.error
        assert r.before and r.after and r.before.workers and r.after.workers
        assert not worker_keys(r.before.workers) & worker_keys(r.after.workers)
        assert {"old_workers_gone", "new_worker"} <= set(verdict.evidence)
        assert r.before.pool_state == r.after.pool_state == "Started" and r.wait_ended == "condition"
        assert _pids(r.after.workers) == farm.host(name).pids("ShopPool")


def test_worker_kill_on_both_hosts_brings_up_new_pids_after_the_warm_up(farm, executor, call):
    results = executor.run_many([call("shop-web", "web01", "worker"), call("shop-web", "web02", "worker")])

    for name, result in zip(("web01", "web02"), results, strict=True):
        r, verdict = restart_of(result), verdict_of(result)
        assert verdict.error_code is None, verdict.error
        assert r.before and r.after and r.after.workers
        assert not worker_keys(r.before.workers) & worker_keys(r.after.workers)
        assert [a.step for a in r.actions] == ["kill"] and r.warmups[-1].status == 200
        assert _pids(r.after.workers) == farm.host(name).pids("ShopPool")


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

    r = restart_of(results[0])
    assert verdict_of(r).error_code is None and r.after
    new = r.after.workers[0].pid
    started = {e.pid: e.at for e in web01.iis.events if e.kind == "start"}
    exited = {e.pid: e.at for e in web01.iis.events if e.kind == "exit"}
    assert started[new] < exited[old[0]]


def test_pool_that_disallows_overlapping_rotation_has_a_gap_with_no_worker(farm, executor, call):
    web01 = farm.host("web01")
    web01.pool("ShopPool").disallow_overlapping_rotation = True
    old = web01.pids("ShopPool")

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert verdict_of(r).error_code is None and r.after
    starts = [e for e in web01.iis.events if e.kind == "start"]
    exited = {e.pid: e.at for e in web01.iis.events if e.kind == "exit"}
    assert exited[old[0]] <= starts[-1].at


def test_on_demand_pool_without_traffic_has_no_worker_until_the_warm_up_starts_one(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.idle_out(web01.pool("ShopPool"))

    status = executor.run(*call("shop-web", "web01", "status"))
    assert isinstance(status, StatusResult) and status.ok
    assert status.start_mode == "OnDemand" and status.workers == []

    warmed = restart_of(executor.run(*call("shop-web", "web01", "apppool", warmup_url="")))
    assert verdict_of(warmed).error_code is None
    assert warmed.before and warmed.acted and warmed.after
    assert warmed.before.workers == [] and warmed.acted.workers == [] and len(warmed.after.workers) == 1


def test_web_garden_worker_rung_kills_every_worker_of_the_pool(farm, executor, call):
    web01 = farm.host("web01")
    web01.pool("ShopPool").max_processes = 2
    web01.iis.start_workers()
    garden = web01.pids("ShopPool")
    assert len(garden) == 2

    r = restart_of(executor.run(*call("shop-web", "web01", "worker")))

    assert verdict_of(r).error_code is None
    assert r.before and r.after and _pids(r.before.workers) == garden
    assert [a.target for a in r.actions] == [str(pid) for pid in garden]
    assert r.after.workers and not worker_keys(r.before.workers) & worker_keys(r.after.workers)


def test_web_garden_recycle_drains_every_worker(farm, executor, call):
    web02 = farm.host("web02")
    web02.pool("ShopPool").max_processes = 3
    web02.iis.start_workers()

    r = restart_of(executor.run(*call("shop-web", "web02", "apppool")))

    assert verdict_of(r).error_code is None and r.before and len(r.before.workers) == 3
    assert not worker_keys(r.before.workers) & worker_keys(web02.iis.workers(web02.pool("ShopPool")))


def test_pool_stopped_by_rapid_fail_protection_refuses_the_recycle_with_the_reason(farm, executor, call):
    web01 = farm.host("web01")
    pool = web01.pool("ShopPool")
    for _ in range(farm.timing.rapid_fail_max):
        web01.iis.crash(pool)
    assert pool.state == "Stopped"

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert not r.ok and r.error_code == "pool_stopped" == verdict_of(r).error_code
    assert r.error and "rapid-fail" in r.error and r.actions == []
    assert r.before and r.before.pool_state == "Stopped"
    assert web01.pool("ShopPool").state == "Stopped"  # reported, not restarted in a loop


def test_killing_workers_counts_towards_rapid_fail_and_the_kill_that_would_trip_it_is_refused(farm, executor, call):
    results = [restart_of(executor.run(*call("shop-web", "web01", "worker"))) for _ in range(5)]
    verdicts = [verdict_of(r) for r in results]

    assert [v.error_code for v in verdicts[:4]] == [None] * 4
    assert [r.crashes_seen for r in results] == [0, 1, 2, 3, 4]  # each kill is a WAS event 5009
    assert verdicts[4].error_code == "rapid_fail_risk" and "rapidFailProtectionMaxCrashes" in (verdicts[4].error or "")
    assert not [a for a in results[4].actions if a.step == "kill"]
    assert farm.host("web01").pool("ShopPool").state == "Started"  # the fifth kill would have stopped it


def test_hung_worker_is_killed_by_was_at_shutdown_time_limit_and_the_recycle_waits_past_the_timeout(
    farm, executor, call
):
    web01 = farm.host("web01")
    pool = web01.pool("ShopPool")
    pool.shutdown_time_limit_s = 0.4
    hung = web01.iis.hang_workers(pool)

    # The request's timeout is shorter than shutdownTimeLimit: the drain is still waited for (fix 8).
    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", timeout_s=0.2)))

    verdict = verdict_of(r)
    assert verdict.error_code is None, verdict.error
    assert r.settings and r.settings.shutdown_time_limit_s == 0.4
    assert r.before and r.after and _pids(r.before.workers) == hung
    assert not worker_keys(r.before.workers) & worker_keys(r.after.workers)
    assert r.wait_ended == "condition" and r.duration_ms >= 400


def test_aspnet_wp_host_with_powershell_2_answers_powershell_too_old_for_every_operation(executor, call):
    # Server 2003 (IIS 6) has at most Windows PowerShell 2.0: the bootstrap says so before any script runs.
    for op in ("status", "appdomain", "apppool", "worker", "discover"):
        result = executor.run(*call("legacy", "web04", op))
        assert not result.ok and result.error_code == "powershell_too_old", op
        assert result.powershell_version == "2.0"
        assert result.error and "2.0 found" in result.error and "Windows Management Framework" in result.error


def test_aspnet_wp_host_with_a_newer_powershell_refuses_the_worker_and_apppool_rungs_and_says_why(
    farm, executor, call
):
    farm.host("web04").iis.powershell_version = "3.0"
    worker = restart_of(executor.run(*call("legacy", "web04", "worker")))
    apppool = restart_of(executor.run(*call("legacy", "web04", "apppool")))

    assert worker.error_code == apppool.error_code == "iis5_isolation"
    assert worker.error and "aspnet_wp" in worker.error and "server rung" in worker.error
    status = executor.run(*call("legacy", "web04", "status"))
    assert isinstance(status, StatusResult)
    assert status.worker_process_name == "aspnet_wp" and status.iis_major_version == 6
    assert [w.pid for w in status.workers] == farm.host("web04").iis.pids(farm.host("web04").iis.machine_process)


def test_app_offline_htm_refuses_every_restart_because_none_would_help(farm, executor, call):
    farm.host("web02").iis.app("Shop").app_offline = True

    for op in ("appdomain", "apppool", "worker"):
        r = restart_of(executor.run(*call("shop-web", "web02", op)))
        assert r.error_code == "app_offline" == verdict_of(r).error_code, op
        assert r.error and "app_offline.htm" in r.error and r.actions == []
        assert r.before and r.before.app_offline
    status = executor.run(*call("shop-web", "web02", "status"))
    assert isinstance(status, StatusResult) and status.app_offline


def test_shared_pool_recycle_unloads_the_other_apps_of_the_pool_too(farm, executor, call):
    web03 = farm.host("web03")
    assert web03.iis.appdomain_id(web03.iis.app("Intranet", "/")) is not None

    r = restart_of(executor.run(*call("intranet-api", "web03", "apppool")))

    assert verdict_of(r, "SharedPool").error_code is None
    status = executor.run(*call("intranet", "web03", "status"))  # nothing asked the root app since
    assert isinstance(status, StatusResult) and status.appdomain_id is None


def test_core_app_in_process_appdomain_rung_touches_web_config_and_restarts_the_worker(executor, call):
    refused = restart_of(executor.run(*call("core-api", "web03", "appdomain", method="wmi-unload")))
    assert refused.error_code == "bad_parameters" and "no AppDomain" in (refused.error or "")

    r = restart_of(executor.run(*call("core-api", "web03", "appdomain", method="touch-web-config")))
    verdict = verdict_of(r, "CorePool")
    assert verdict.error_code is None and verdict.evidence == ("app_answered", "worker_restarted")
    assert r.settings and r.settings.hosting_model == "inprocess" and r.after and r.after.appdomains is None
    assert r.after.workers and not worker_keys(r.before.workers) & worker_keys(r.after.workers)  # type: ignore[union-attr]


def test_unknown_site_app_and_a_wrong_pool_answer_with_their_error_codes(executor, call):
    site = executor.run(*call("shop-web", "web01", "status", iis_site="Nope"))
    app = executor.run(*call("shop-web", "web01", "apppool", app_path="/nope"))
    pool = executor.run(*call("shop-web", "web01", "worker", pool="NopePool"))

    assert (site.error_code, app.error_code) == ("site_not_found", "app_not_found")
    # The script reads the application's pool from IIS: an inventory naming another one is corrected, not guessed.
    assert pool.error_code == "bad_parameters" and "correct the inventory" in (pool.error or "")


def test_pool_stuck_starting_fails_with_a_transition_timeout_after_a_bounded_poll(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.set_transition(web01.pool("ShopPool"), "Starting", for_s=float("inf"))

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", timeout_s=0.3)))

    assert r.error_code == "pool_transition_timeout"
    assert r.error and "stayed Starting" in r.error and r.actions == []


def test_pool_briefly_starting_is_waited_for_and_then_recycled(farm, executor, call):
    web01 = farm.host("web01")
    web01.iis.set_transition(web01.pool("ShopPool"), "Starting", for_s=0.1)

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.ok, r.error


def test_was_stopped_refuses_restarts_and_points_at_a_human(farm, executor, call):
    farm.host("web01").iis.was_running = False

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

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
        assert not isinstance(result, RestartResult) or verdict_of(result).error_code is None, op
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
        # NTLM's handshake (pywinrm's: an empty POST drawing the 401, NEGOTIATE, AUTHENTICATE) costs
        # three requests, and only once: the session is reused
        assert web01.requests == 5 + handshake
    assert web01.open_shells == 0
