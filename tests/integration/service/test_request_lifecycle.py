"""A request's whole life through the service, against the simulated farm and a real database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.errors import Refused
from bot.store import LockHeld, RequestState
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.files import parse_policy
from policies.identity import Principal

EXAMPLES_POLICY = Path(__file__).resolve().parents[3] / "examples" / "policy.toml"

ALICE, BOB, CAROL = Principal(id="U01ALICE"), Principal(id="U02BOB"), Principal(id="U03CAROL")
HUNG = RestartRequest(site="shop-web", reason=Reason.HUNG)


def worker_commands(farm, host: str) -> int:
    return sum(b"aspreset-operation: worker" in bytes(c.stdin) for c in farm.host(host).received)


def test_an_allowed_pool_recycle_runs_at_once_and_reports_new_pids_on_every_host(make_service, demo_farm):
    service = make_service()
    before = {h: demo_farm.host(h).pids("ShopPool") for h in ("web01", "web02")}
    outcome = service.request(RestartRequest(site="shop-web", scope=Rung.APPPOOL), ALICE, "cli")
    assert outcome.state == "succeeded"
    for host in outcome.hosts:
        assert host.pids_before == before[host.host]
        assert host.pids_after == demo_farm.host(host.host).pids("ShopPool")
        assert not set(host.pids_before) & set(host.pids_after)
        assert service.store.get(outcome.id).state == RequestState.SUCCEEDED


def test_a_worker_kill_waits_for_bob_and_runs_once_when_he_approves(make_service, demo_farm):
    service = make_service()
    waiting = service.request(HUNG, ALICE, "cli")
    assert waiting.state == "awaiting_approval"
    assert worker_commands(demo_farm, "web01") == 0, "nothing runs before approval"
    request_id = waiting.id

    with pytest.raises(Refused, match="a second person must approve"):
        service.approve(request_id, ALICE)
    with pytest.raises(Refused, match="not among the approvers"):
        service.approve(request_id, CAROL)
    with pytest.raises(Refused, match="never approve"):
        service.approve(request_id, Principal(id="mcp:claude"))

    done = service.approve(request_id, BOB)
    assert done.state == "succeeded" and done.ran_now
    # Windows reuses PIDs: a process is (PID, start time).
    for h in done.hosts:
        before = {(w["pid"], w["started_at"]) for w in h.workers_before}  # type: ignore[attr-defined]
        after = {(w["pid"], w["started_at"]) for w in h.workers_after}  # type: ignore[attr-defined]
        assert after and not before & after
    again = service.approve(request_id, BOB)
    assert not again.ran_now and "nothing more" in again.message
    assert worker_commands(demo_farm, "web01") == 1 and worker_commands(demo_farm, "web02") == 1

    actions = [e.action.value for e in service.store.audit(request_id=request_id)]  # type: ignore[union-attr]
    assert actions == ["requested", "approved", "started", "finished"]


def test_many_simultaneous_approvals_run_the_kill_exactly_once(make_service, demo_farm):
    requester = make_service()
    request_id = requester.request(HUNG, ALICE, "cli").id
    barrier = threading.Barrier(20)
    ran: list[bool] = []

    def approve() -> None:
        service = make_service(owner=f"replica-{threading.get_ident()}")
        barrier.wait(timeout=30)
        ran.append(service.approve(request_id, BOB).ran_now)

    threads = [threading.Thread(target=approve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(ran) == 20
    assert ran.count(True) == 1
    assert worker_commands(demo_farm, "web01") == 1 and worker_commands(demo_farm, "web02") == 1


def test_a_second_request_for_a_locked_pool_is_refused_naming_the_holder(make_service):
    service = make_service()
    waiting = service.request(HUNG, ALICE, "cli")
    with pytest.raises(LockHeld) as caught:
        service.request(RestartRequest(site="shop-web", scope=Rung.APPPOOL), BOB, "cli")
    assert waiting.id in str(caught.value)
    assert caught.value.code == "locked"


def test_an_unapproved_request_expires_and_frees_its_pool(make_service, clock):
    service = make_service()
    request_id = service.request(HUNG, ALICE, "cli").id
    clock.advance(minutes=16)
    late = service.approve(request_id, BOB)
    assert late.state == "expired" and not late.ran_now
    assert service.request(RestartRequest(site="shop-web"), ALICE, "cli").state == "succeeded"


def test_bob_denies_with_a_reason_and_alice_can_cancel_her_own(make_service):
    service = make_service()
    first = service.request(HUNG, ALICE, "cli").id
    denied = service.deny(first, BOB, "not during the sale")
    assert denied.state == "denied"
    assert denied.deny_reason == "not during the sale"
    second = service.request(HUNG, ALICE, "cli").id
    with pytest.raises(Refused, match="may not deny"):
        service.deny(second, CAROL, None)
    assert service.deny(second, ALICE, None).state == "cancelled"


def test_a_refused_request_is_recorded_and_touches_no_host(make_service, demo_farm):
    service = make_service()
    outcome = service.request(RestartRequest(site="shop-web"), CAROL, "cli")
    assert outcome.state == "refused"
    assert service.store.get(outcome.id).state == RequestState.REFUSED
    assert demo_farm.host("web01").received == []


def test_the_worker_kill_cap_counts_kills_of_the_last_hour(make_service, clock):
    service = make_service()
    for _ in range(3):
        request_id = service.request(HUNG, ALICE, "cli").id
        assert service.approve(request_id, BOB).state == "succeeded"
        clock.advance(minutes=1)
    capped = service.request(HUNG, ALICE, "cli")
    assert capped.state == "refused" and "rapid-fail" in " ".join(capped.decision.reasons)  # type: ignore[union-attr]
    clock.advance(hours=1)
    assert service.request(HUNG, ALICE, "cli").state == "awaiting_approval"


def test_an_approval_during_a_freeze_that_began_after_the_request_does_not_run_it(
    make_service, clock, demo_farm
):
    service = make_service()
    request_id = service.request(HUNG, ALICE, "cli").id
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[clock.now.weekday()]
    start = (clock.now + timedelta(minutes=5)).strftime("%H:%M")
    service.policy = parse_policy(
        (EXAMPLES_POLICY.read_text() + f'''
[[freezes]]
name = "sale"
days = ["{weekday}"]
start = "{start}"
end = "23:59"
timezone = "UTC"
'''), "policy.toml")
    clock.advance(minutes=6)
    with pytest.raises(Refused, match="change freeze 'sale'"):
        service.approve(request_id, BOB)
    assert service.store.get(request_id).state == RequestState.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert worker_commands(demo_farm, "web01") == 0


def test_a_changed_dll_restarts_nothing_but_warms_up_and_verifies_every_host(make_service, demo_farm):
    before = {h: demo_farm.host(h).pids("ShopPool") for h in ("web01", "web02")}
    outcome = make_service().request(RestartRequest(site="shop-web", changed=("bin/Shop.Web.dll",)), ALICE, "cli")
    assert outcome.state == "succeeded"
    for host in outcome.hosts:
        assert host.rung == "none" and host.warmup_status == 200
        assert host.pids_after == host.pids_before and host.pids_after
        assert set(before[host.host]) <= set(host.pids_after), "no worker was replaced"
    assert not any(b"operation: apppool" in bytes(c.stdin) or b"operation: worker" in bytes(c.stdin)
                   or b"operation: appdomain" in bytes(c.stdin) for c in demo_farm.host("web01").received)


def test_an_approved_request_whose_runner_stopped_before_starting_runs_on_the_next_approve(make_service, clock):
    service = make_service()
    request_id = service.request(HUNG, ALICE, "cli").id
    assert service.store.add_approval(request_id, BOB.id, clock()).became_approved  # type: ignore[union-attr]
    # ...and the process that approved it died before claiming it: the request sits approved, pool locked
    done = service.approve(request_id, BOB)
    assert done.state == "succeeded" and done.ran_now
    assert not service.approve(request_id, BOB).ran_now, "it ran once"
