"""What a real IIS server does that a friendly simulator hides (docs/supported.md), one test per case:
the simulated farm behaves that way, the operations report what they saw, and
bot.app.verification judges it as it would judge a real host. Each test failed on the old simulator,
scripts or verification."""

from __future__ import annotations

import time
from typing import Any

from restart_results import restart_of, verdict_of, worker_keys

from bot.app.results import RestartResult, StatusResult
from bot.app.verification import host_outcome
from bot.sim.http_sys import serve
from bot.sim.iis import OUT_OF_PROCESS
from bot.sim.timing import SimTiming
from commands.model import RestartRequest
from policies.files import default_policy
from policies.planner import plan

# ---- 1. AppDomain verification -------------------------------------------------------------------


def test_1_an_appdomain_whose_id_never_changes_is_verified_by_its_entry_and_the_restart_counter(executor, call):
    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain")))

    verdict = verdict_of(r)
    assert verdict.error_code is None
    assert r.before and r.acted and r.after and r.before.appdomains and r.after.appdomains
    assert r.before.appdomains[0].id == r.after.appdomains[0].id  # the old check (Id changed) fails here
    assert r.acted.appdomains == []  # the entry left the list after Unload
    assert (r.after.app_restarts or 0) > (r.before.app_restarts or 0)  # machine-wide: other apps move it too
    assert set(verdict.evidence) >= {"entry_left", "entry_back_in_same_worker", "restart_counter_grew"}


def test_1_without_the_wmi_provider_the_appdomain_is_unloaded_through_microsoft_web_administration(
    farm, executor, call
):
    farm.host("web01").iis.wmi_provider = False

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain")))

    assert r.method == "mwa-unload" and verdict_of(r).error_code is None
    assert [a.step for a in r.actions] == ["unload"]


def test_6_the_policy_can_touch_web_config_instead_or_refuse_when_the_wmi_provider_is_missing(farm, executor, call):
    farm.host("web01").iis.wmi_provider = False

    touched = restart_of(executor.run(*call("shop-web", "web01", "appdomain", fallback="touch-web-config")))
    refused = restart_of(executor.run(*call("shop-web", "web01", "appdomain", fallback="refuse")))

    assert touched.method == "touch-web-config" and verdict_of(touched).error_code is None
    assert refused.error_code == "wmi_provider_missing" and refused.actions == []
    assert refused.error and "Install-WindowsFeature Web-Scripting-Tools" in refused.error


def test_6_discover_reports_the_optional_features_a_host_lacks(farm, executor, call):
    iis = farm.host("web01").iis
    iis.wmi_provider = iis.webadministration_module = False

    found = executor.run(*call("shop-web", "web01", "discover"))

    assert found.ok and found.features.wmi_provider is False and found.features.webadministration_module is False
    assert found.features.aspnet is True


def test_6_the_policy_names_its_appdomain_fallback_in_the_plan():
    from policies.inventory import Inventory, Site

    inventory = Inventory(hosts={"h": {"address": "h"}}, sites={"s": Site(environment="e", hosts=["h"],
                                                                            iis_site="S", pool="P")})
    policy = default_policy().model_copy(update={"appdomain_fallback": "refuse"})
    assert plan(RestartRequest(site="s"), inventory, policy).appdomain_fallback == "refuse"


# ---- 2. warm-up through HTTP.sys -----------------------------------------------------------------


def test_2_the_warm_up_goes_to_this_host_with_the_bindings_host_header_and_names_what_answered(
    farm, executor, call
):
    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    answer = r.warmups[-1]
    port = farm.host("web01").http_port
    assert answer.url.startswith(f"http://127.0.0.1:{port}/") and answer.host_header == f"shop-1.sim:{port}"
    assert answer.status == 200 and answer.server == "Microsoft-IIS/10.0" and answer.ms >= 0


def test_2_a_host_name_no_binding_has_is_http_sys_answering_400_and_fails_the_warm_up(farm, executor, call):
    port = farm.host("web01").http_port
    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", warmup_url=f"http://nobody.example:{port}/")))

    answer = r.warmups[-1]
    assert answer.status == 400 and answer.server == "Microsoft-HTTPAPI/2.0"
    assert r.wait_ended == "not_routed" and len(r.warmups) == 1  # asking again cannot help
    verdict = verdict_of(r)
    assert verdict.error_code == "warmup_failed" and "Invalid Hostname" in (verdict.error or "")
    assert "nobody.example" in (verdict.error or "")


def test_2_a_stopped_pool_is_http_sys_answering_503_not_the_app(farm):
    web01 = farm.host("web01")
    web01.pool("ShopPool").state = "Stopped"

    answer = serve(web01.iis, web01.http_port, "/", "shop-1.sim")

    assert (answer.status, answer.server) == (503, "Microsoft-HTTPAPI/2.0")


def test_2_a_redirect_to_https_the_site_does_not_listen_on_is_not_followed_nor_taken_as_the_app_answering(
    farm, executor, call
):
    farm.host("web01").iis.app("Shop").redirect_to = "https://shop-1.sim/"

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    verdict = verdict_of(r)
    assert r.warmups[-1].status == 301 and r.warmups[-1].location == "https://shop-1.sim/"
    assert verdict.error_code is None and any("redirect" in note for note in verdict.notes)
    assert "app_answered" not in verdict.evidence and "new_worker" in verdict.evidence


# ---- 4. pool state in every wait -----------------------------------------------------------------


def test_4_a_pool_that_goes_stopped_during_the_wait_ends_it_at_once_with_pool_stopped(farm, executor, call):
    web01 = farm.host("web01")
    pool = web01.pool("ShopPool")
    web01.iis.hang_workers(pool)  # the recycle would wait for shutdownTimeLimit (90 s)
    web01.iis.stop_pool_after(pool, 0.3)

    started = time.monotonic()
    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", timeout_s=30)))

    assert time.monotonic() - started < 5
    assert r.wait_ended == "pool_stopped"
    verdict = verdict_of(r)
    assert verdict.error_code == "pool_stopped" and "Start-WebAppPool" in (verdict.error or "")


# ---- 5. PowerShell version -----------------------------------------------------------------------


def test_5_a_bootstrap_without_the_version_gate_fails_on_powershell_2_the_way_powershell_does(farm):
    from bot.app.results import OperationParams
    from bot.sim.observe import OpContext, loopback_get
    from bot.sim.operations import run_script
    from bot.winrm.scripts import bootstrap_source, stdin_payload

    iis = farm.host("web01").iis
    iis.powershell_version = "2.0"
    ctx = OpContext(iis=iis, cancel=__import__("threading").Event(), http_get=loopback_get)
    payload = stdin_payload(OperationParams(op="apppool", iis_site="Shop"))

    old = run_script(payload, ctx, "$s = $input | Out-String; & ([scriptblock]::Create($s))")
    new = run_script(payload, ctx, bootstrap_source())

    assert old.exit_code == 1 and b"[ordered]" in old.stderr
    assert new.exit_code == 0 and RestartResult.model_validate_json(new.stdout).error_code == "powershell_too_old"


# ---- 7. PIDs with start times --------------------------------------------------------------------


def test_7_a_killed_workers_pid_reused_by_its_successor_is_still_a_new_process(executor, call):
    r = restart_of(executor.run(*call("shop-web", "web01", "worker")))

    assert r.before and r.after
    assert [w.pid for w in r.before.workers] == [w.pid for w in r.after.workers]  # Windows reused the PID
    assert not worker_keys(r.before.workers) & worker_keys(r.after.workers)
    assert verdict_of(r).error_code is None  # the old PID-only check said "still running"


# ---- 8. waits bounded by IIS's own limits --------------------------------------------------------


def test_8_after_a_kill_the_old_process_is_confirmed_gone_before_the_warm_up(executor, call):
    r = restart_of(executor.run(*call("shop-web", "web01", "worker")))

    assert r.before and r.acted and not worker_keys(r.before.workers) & worker_keys(r.acted.workers)
    assert r.acted.at_ms <= (r.after.at_ms if r.after else 0)


# ---- 9. file operations --------------------------------------------------------------------------


def test_9_content_on_an_unreachable_share_is_access_denied_with_the_path_and_the_account(farm, executor, call):
    farm.host("web01").iis.app("Shop").content_denied = True

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", method="touch-web-config")))

    assert r.error_code == "access_denied" and r.error
    assert "C:\\inetpub\\Shop" in r.error and "SIM\\aspreset-lab" in r.error and "double hop" in r.error


# ---- 10. every CIM call bounded ------------------------------------------------------------------


def test_10_a_stuck_wmi_repository_fails_its_host_within_the_bound_and_not_the_others(farm, executor, call):
    farm.host("web01").iis.wmi_stuck = True

    started = time.monotonic()
    results = executor.run_many([call("shop-web", "web01", "appdomain", cim_timeout_s=1),
                                 call("shop-web", "web02", "appdomain", cim_timeout_s=1)])

    assert time.monotonic() - started < 4
    assert results[0].error_code == "wmi_timeout" and "-OperationTimeoutSec" in (results[0].error or "")
    assert verdict_of(results[1]).error_code is None


# ---- 11. app_offline.htm -------------------------------------------------------------------------


def test_11_with_app_offline_the_none_rung_gets_the_offline_page_and_says_so(farm, executor, call):
    farm.host("web01").iis.app("Shop").app_offline = True

    status = executor.run(*call("shop-web", "web01", "status", warm_up=True))

    assert isinstance(status, StatusResult) and status.app_offline
    answer = status.warmups[-1]
    assert answer.status == 503 and answer.offline_page and answer.server.startswith("Microsoft-IIS")
    none_plan = plan(RestartRequest(site="shop-web", changed=("bin/x.dll",)), _inventory(call), default_policy())
    outcome = host_outcome(none_plan, "web01", status, 0)
    assert outcome.error_code == "app_offline" and outcome.app_offline


def _inventory(call: Any):
    from policies.inventory import Host, Inventory, Site

    return Inventory(hosts={"web01": Host(address="x")},
                     sites={"shop-web": Site(environment="prod", hosts=["web01"], iis_site="Shop", pool="ShopPool")})


# ---- 12. ASP.NET Core out of process -------------------------------------------------------------


def test_12_out_of_process_aspnet_core_restarts_its_dotnet_child_and_keeps_the_worker(farm, executor, call):
    web03 = farm.host("web03")
    web03.iis.app("CoreApi").hosting_model = OUT_OF_PROCESS
    executor.run(*call("core-api", "web03", "status", warm_up=True))  # the first request starts dotnet.exe

    r = restart_of(executor.run(*call("core-api", "web03", "appdomain")))

    verdict = verdict_of(r, "CorePool")
    assert r.method == "touch-web-config" and r.settings and r.settings.hosting_model == "outofprocess"
    assert verdict.error_code is None and "dotnet_child_restarted" in verdict.evidence
    assert r.before and r.after and r.before.children and r.after.children
    assert not worker_keys(r.before.children) & worker_keys(r.after.children)
    assert worker_keys(r.before.workers) == worker_keys(r.after.workers)  # w3wp.exe stays


# ---- the simulator's own timing ------------------------------------------------------------------


def test_cold_starts_are_configurable_and_the_warm_up_waits_for_them(inventory, call):
    from bot.sim.farm import Farm
    from bot.winrm.executor import WinRMExecutor
    from bot.winrm.transport import Timeouts

    slow = SimTiming(worker_start_s=0.02, drain_s=0.05, poll_s=0.01, cold_start_s=0.4)
    with Farm.from_inventory(inventory, timing=slow) as farm:
        client = farm.client_inventory()
        host, site = client.hosts["web01"], client.sites["shop-web"]
        executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=10, max_operation_s=5), deadline_s=20)
        params = call("shop-web", "web01", "appdomain").params.model_copy(
            update={"warmup_url": f"{host.warmup_base_url}/", "iis_site": site.iis_site})
        r = restart_of(executor.run("web01", host, params))
    assert verdict_of(r).error_code is None and r.warmups[-1].ms >= 400
    assert SimTiming.interactive().cold_start_s >= 1  # `aspreset sim` serves seconds, as real apps take
