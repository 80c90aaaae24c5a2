"""The rules bot.app.verification judges a host's observations by, one at a time, on observations
shaped as a real server gives them (docs/iis-behaviour.md)."""

from __future__ import annotations

import pytest

from bot.app.results import (
    AppDomainEntry,
    Observation,
    PoolSettings,
    RestartResult,
    WarmupAnswer,
    WorkerProcess,
)
from bot.app.verification import judge
from commands.rungs import Rung

W1 = WorkerProcess(pid=4000, started_at="2026-01-01T10:00:00.000000Z")
W1_REUSED = WorkerProcess(pid=4000, started_at="2026-01-01T10:05:00.000000Z")
W2 = WorkerProcess(pid=4004, started_at="2026-01-01T10:05:00.000000Z")
APP = AppDomainEntry(id="/LM/W3SVC/1/ROOT/shop", worker_pid=4000)
OK = WarmupAnswer(url="http://127.0.0.1:80/shop/", host_header="shop.example.com", status=200,
                  server="Microsoft-IIS/10.0")


def result(op: str, before: Observation, after: Observation, acted: Observation | None = None,
           warmups: list[WarmupAnswer] | None = None, **fields) -> RestartResult:
    return RestartResult(ok=True, op=op, method=fields.pop("method", "x"), before=before, acted=acted, after=after,
                         warmups=[OK] if warmups is None else warmups, **fields)  # type: ignore[arg-type]


def seen(*workers: WorkerProcess, domains: list[AppDomainEntry] | None = None, restarts: int | None = None,
         state: str = "Started", children: tuple[WorkerProcess, ...] = ()) -> Observation:
    return Observation(pool_state=state, workers=list(workers), appdomains=domains, app_restarts=restarts,
                       children=list(children))


def test_the_machine_wide_counter_alone_does_not_show_this_apps_restart_when_the_list_cannot_be_read():
    verdict = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, restarts=3), seen(W1, restarts=4)))
    assert verdict.error_code == "not_verified" and "another app" in (verdict.error or "")
    assert "restart_counter_grew" in verdict.evidence  # kept, as corroboration


def test_nothing_readable_is_not_verified_and_names_the_feature_to_install():
    verdict = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1), seen(W1)))
    assert verdict.error_code == "not_verified" and "Web-Scripting-Tools" in (verdict.error or "")


def test_an_id_that_changed_is_extra_evidence_not_a_requirement():
    new = AppDomainEntry(id="/LM/W3SVC/1/ROOT/shop-2", worker_pid=4000)
    changed = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, domains=[APP]), seen(W1, domains=[new])))
    assert changed.error_code is None and "id_changed" in changed.evidence
    same = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, domains=[APP]), seen(W1, domains=[APP]),
                                              acted=seen(W1, domains=[])))
    assert same.error_code is None and "entry_left" in same.evidence and "id_changed" not in same.evidence


def test_no_appdomain_after_the_warm_up_means_the_app_did_not_come_back():
    verdict = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, domains=[APP], restarts=1),
                                                 seen(W1, domains=[], restarts=2)))
    assert verdict.error_code == "appdomain_not_restarted" and "did not come back" in (verdict.error or "")


def test_a_reused_pid_with_a_new_start_time_is_a_new_worker():
    verdict = judge(Rung.WORKER, "P", result("worker", seen(W1), seen(W1_REUSED)))
    assert verdict.error_code is None and {"old_workers_gone", "new_worker"} <= set(verdict.evidence)


def test_an_old_worker_left_past_shutdown_time_limit_is_a_recycle_not_finished():
    verdict = judge(Rung.APPPOOL, "P", result("apppool", seen(W1), seen(W1, W2), wait_ended="shutdown_time_limit",
                                               settings=PoolSettings(shutdown_time_limit_s=90)))
    assert verdict.error_code == "recycle_not_finished" and "shutdownTimeLimit (90 s)" in (verdict.error or "")


def test_a_worker_that_survived_the_kill_is_reported_as_such():
    verdict = judge(Rung.WORKER, "P", result("worker", seen(W1), seen(W1, W2)))
    assert verdict.error_code == "worker_not_stopped"


@pytest.mark.parametrize(("status", "meaning"), [
    (400, "Invalid Hostname"), (503, "stopped or its request queue is full"), (404, "nothing is registered"),
])
def test_http_sys_answering_itself_is_a_failed_warm_up_that_says_what_it_means(status, meaning):
    answer = OK.model_copy(update={"status": status, "server": "Microsoft-HTTPAPI/2.0"})
    verdict = judge(Rung.APPPOOL, "ShopPool", result("apppool", seen(W1), seen(W2), warmups=[answer]))
    assert verdict.error_code == "warmup_failed" and meaning in (verdict.error or "")
    assert "shop.example.com" in (verdict.error or "") and "127.0.0.1" in (verdict.error or "")


def test_the_app_failing_with_a_500_fails_the_warm_up_but_a_404_from_the_app_starts_it_fine():
    failing = OK.model_copy(update={"status": 500})
    assert judge(Rung.APPPOOL, "P", result("apppool", seen(W1), seen(W2), warmups=[failing])).error_code \
        == "warmup_failed"
    missing = OK.model_copy(update={"status": 404})
    assert judge(Rung.APPPOOL, "P", result("apppool", seen(W1), seen(W2), warmups=[missing])).error_code is None


def test_no_answer_at_all_names_why():
    silent = OK.model_copy(update={"status": None, "failure": "Timeout", "ms": 30000})
    verdict = judge(Rung.APPPOOL, "P", result("apppool", seen(W1), seen(W2), warmups=[silent]))
    assert verdict.error_code == "warmup_failed" and "Timeout" in (verdict.error or "")


def test_the_offline_page_is_what_the_warm_up_expects_while_app_offline_is_there():
    offline = OK.model_copy(update={"status": 503, "offline_page": True})
    verdict = judge(Rung.APPPOOL, "P", result("apppool", seen(W1), seen(W2), warmups=[offline]))
    assert verdict.error_code == "app_offline" and "as expected" in (verdict.error or "")


def test_a_pool_stopped_at_the_end_fails_every_rung_with_what_to_do():
    for rung in (Rung.APPDOMAIN, Rung.APPPOOL, Rung.WORKER):
        verdict = judge(rung, "ShopPool", result(rung.value, seen(W1), seen(state="Stopped")))
        assert verdict.error_code == "pool_stopped" and "Start-WebAppPool" in (verdict.error or "")


def test_aspnet_core_out_of_process_is_judged_by_its_own_process():
    core = PoolSettings(managed_runtime="v4.0", aspnet_core=True, hosting_model="outofprocess")
    child, new_child = W2, WorkerProcess(pid=4010, started_at="2026-01-01T10:06:00.000000Z")
    ok = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, children=(child,)), seen(W1, children=(new_child,)),
                                            settings=core))
    assert ok.error_code is None and "dotnet_child_restarted" in ok.evidence
    assert any("process 4010" in note for note in ok.notes)
    same = judge(Rung.APPDOMAIN, "P", result("appdomain", seen(W1, children=(child,)), seen(W1, children=(child,)),
                                              settings=core))
    assert same.error_code == "appdomain_not_restarted"


def test_a_script_that_could_not_act_keeps_its_own_code():
    failed = RestartResult(ok=False, op="apppool", error_code="powershell_too_old", error="2.0 found")
    assert judge(Rung.APPPOOL, "P", failed).error_code == "powershell_too_old"
