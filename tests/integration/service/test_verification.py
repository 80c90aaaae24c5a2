"""The service checks what every rung promises, whatever the host's script claims, and reports a
farm where some hosts failed as partially failed, releasing the pool either way."""

from __future__ import annotations

from bot.app.results import RestartResult
from bot.store import RequestState
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.identity import Principal

ALICE = Principal(id="U01ALICE")


def claimed(op: str, **fields) -> bytes:
    result = RestartResult(ok=True, op=op, method="x", **fields)  # type: ignore[arg-type]
    return result.model_dump_json().encode() + b"\n"


def test_an_appdomain_restart_whose_id_did_not_change_is_reported_as_not_done(make_service, demo_farm):
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_script_output(
            claimed("appdomain", pids_before=[1], pids_after=[1], appdomain_before="A-1", appdomain_after="A-1")
        )
    outcome = make_service().request(RestartRequest(site="shop-web"), ALICE, "cli")
    assert outcome.state == "failed"
    assert {h.error_code for h in outcome.hosts} == {"not_verified"}
    assert "did not change" in (outcome.hosts[0].error or "")


def test_a_recycle_that_left_the_old_worker_running_is_reported_as_not_finished(make_service, demo_farm):
    demo_farm.host("web01").inject_script_output(claimed("apppool", pids_before=[7], pids_after=[7, 9]))
    outcome = make_service().request(RestartRequest(site="shop-web", scope=Rung.APPPOOL, host="web01"), ALICE, "cli")
    assert outcome.state == "failed"
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
