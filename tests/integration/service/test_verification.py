"""The service judges what every host observed (bot.app.verification), whatever the host's script
claims, and reports a farm where some hosts failed as partially failed, releasing the pool either way."""

from __future__ import annotations

from bot.app.results import AppDomainEntry, Observation, RestartResult, WarmupAnswer, WorkerProcess
from bot.store import RequestState
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.identity import Principal

ALICE = Principal(id="U01ALICE")
WORKER = WorkerProcess(pid=1, started_at="2026-01-01T00:00:00.000000Z")
ANSWER = WarmupAnswer(url="http://127.0.0.1:80/", host_header="shop.example.com", status=200,
                      server="Microsoft-IIS/10.0")


def claimed(op: str, **fields) -> bytes:
    result = RestartResult(ok=True, op=op, method="x", warmups=[ANSWER], **fields)  # type: ignore[arg-type]
    return result.model_dump_json().encode() + b"\n"


def test_an_appdomain_whose_entry_never_left_and_whose_counter_stayed_is_reported_as_not_done(
    make_service, demo_farm
):
    domain = [AppDomainEntry(id="/LM/W3SVC/1/ROOT", worker_pid=1)]
    seen = Observation(pool_state="Started", workers=[WORKER], appdomains=domain, app_restarts=3)
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_script_output(claimed("appdomain", before=seen, acted=seen, after=seen))
    outcome = make_service().request(RestartRequest(site="shop-web"), ALICE, "cli")
    assert outcome.state == "failed"
    # prod restarts one host at a time: the first unverified host stops the rollout before web02
    assert [(h.host, h.error_code) for h in outcome.hosts] == [("web01", "appdomain_not_restarted"), ("web02", None)]
    assert outcome.hosts[1].outcome == "skipped" and outcome.untouched == ["web02"]
    assert "never left the list" in (outcome.hosts[0].error or "")


def test_a_recycle_that_left_the_old_worker_running_is_reported_as_not_finished(make_service, demo_farm):
    new = WorkerProcess(pid=9, started_at="2026-01-01T00:01:00.000000Z")
    demo_farm.host("web01").inject_script_output(claimed(
        "apppool", before=Observation(pool_state="Started", workers=[WORKER]),
        after=Observation(pool_state="Started", workers=[WORKER, new]), wait_ended="deadline"))
    outcome = make_service().request(RestartRequest(site="shop-web", scope=Rung.APPPOOL, hosts=("web01",)),
                                     ALICE, "cli")
    assert outcome.state == "failed"
    assert outcome.hosts[0].error_code == "recycle_not_finished"
    assert "still running" in (outcome.hosts[0].error or "")


def test_one_host_failing_makes_the_request_partially_failed_and_frees_the_pool(make_service, demo_farm):
    demo_farm.host("web02").inject_unauthorized()
    service = make_service()
    outcome = service.request(RestartRequest(site="shop-web", scope=Rung.APPPOOL), ALICE, "cli")
    assert outcome.state == "partially_failed"
    by_host = {h.host: h for h in outcome.hosts}
    assert by_host["web01"].outcome == "succeeded" and by_host["web02"].outcome == "failed"
    assert by_host["web02"].error_code == "auth_failed"
    assert service.store.get(outcome.id).state == RequestState.PARTIALLY_FAILED
    demo_farm.host("web02").clear_faults()
    assert service.request(RestartRequest(site="shop-web"), ALICE, "cli").state == "succeeded"
