"""The service's use cases through bootstrap.build with the core's fakes (tests/unit/app/conftest.py):
what runs on which host, what the store records, who approved, what the notifier hears. The demo
team's policy: alice and bob may recycle; killing a worker needs bob's approval within 15 minutes;
carol may do nothing; at most 3 worker kills per pool per hour."""

from __future__ import annotations

import threading

import pytest
from fakes import FakeWorld as World

from bot.app.dispatch import dispatch
from bot.app.errors import HostUnreachable, LockHeld, NotAllowed
from bot.app.records import AuditAction, RequestState
from bot.app.views import ErrorView, HostResultView, RequestView
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.identity import Principal

ALICE, BOB, CAROL = Principal(id="U01ALICE"), Principal(id="U02BOB"), Principal(id="U03CAROL")
ASSISTANT = Principal(id="mcp:alice-assistant")  # acts for alice
RECYCLE = RestartRequest(site="shop-web", scope=Rung.APPPOOL)
HUNG = RestartRequest(site="shop-web", reason=Reason.HUNG)  # the worker rung: needs approval
SHOP = ("web01", "web02")
POOL = "ShopPool"


# What the service returns (bot/app/views.py RequestView), read in one place.


def request_id(reply: RequestView) -> str:
    return reply.id


def hosts_of(reply: RequestView) -> dict[str, HostResultView]:
    return {host.host: host for host in reply.hosts}


def approvers_of(reply: RequestView) -> list[str]:
    return [approval.approver for approval in reply.approvals]


def shop_pids(world: World) -> dict[str, list[int]]:
    return {host: world.executor.pids(host, POOL) for host in SHOP}


def restarts_on_shop(world: World) -> dict[str, list[str]]:
    restarts = world.executor.restarts()
    return {host: list[str](restarts[host]) for host in SHOP}


# -- allowed -------------------------------------------------------------------------------------


def test_an_allowed_recycle_runs_at_once_on_every_host_and_records_the_new_pids(world: World) -> None:
    before = shop_pids(world)

    reply = world.service.request(RECYCLE, ALICE, "cli")

    assert (reply.state, reply.ran_now, reply.requester) == ("succeeded", True, ALICE.id)
    after = shop_pids(world)
    for name, host in hosts_of(reply).items():
        assert (host.outcome, host.pids_before, host.pids_after) == ("succeeded", before[name], after[name])
        assert not set(before[name]) & set(after[name])
    assert restarts_on_shop(world) == {"web01": ["apppool"], "web02": ["apppool"]}
    assert world.executor.restarts()["web03"] == []  # another site's server is left alone
    stored = world.store.get(request_id(reply))
    assert stored.state is RequestState.SUCCEEDED and stored.requester == ALICE.id
    assert stored.result is not None
    assert {h["host"]: h["pids_after"] for h in stored.result["hosts"]} == after


def test_a_verify_only_request_warms_up_on_each_host_and_restarts_nothing(world: World) -> None:
    before = shop_pids(world)

    reply = world.service.request(RestartRequest(site="shop-web", scope=Rung.NONE), ALICE, "cli")

    assert reply.state == "succeeded"
    # The host warms itself up (status with warm_up): a GET from the bot would reach the load balancer.
    assert all(world.executor.ran(host, "status")[-1].warm_up for host in SHOP)
    assert restarts_on_shop(world) == {"web01": [], "web02": []}
    assert shop_pids(world) == before
    assert all(h.pids_before == h.pids_after == before[name] for name, h in hosts_of(reply).items())


def test_a_config_change_restarts_only_the_appdomain_and_keeps_the_worker(world: World) -> None:
    before = shop_pids(world)
    appdomains = {host: world.executor.appdomain(host, "Shop") for host in SHOP}

    reply = world.service.request(RestartRequest(site="shop-web", changed=("App_Config/Settings.config",)), ALICE,
                                  "cli")

    assert (reply.state, reply.rung) == ("succeeded", "appdomain")
    assert restarts_on_shop(world) == {"web01": ["appdomain"], "web02": ["appdomain"]}
    assert shop_pids(world) == before
    for name, host in hosts_of(reply).items():
        assert host.pids_before == host.pids_after == before[name]
        assert host.appdomain_before == appdomains[name]
        assert host.appdomain_after == world.executor.appdomain(name, "Shop") != appdomains[name]


def test_status_reads_every_host_of_the_site_and_shows_one_that_cannot_be_reached(world: World) -> None:
    world.executor.fail_next("web02", HostUnreachable("web02", "connection refused"))

    status = world.service.status("shop-web")

    web01, web02 = status.hosts
    assert (web01.host, web01.ok) == ("web01", True)
    assert [w["pid"] for w in web01.workers] == world.executor.pids("web01", POOL)
    assert web01.appdomain_id == world.executor.appdomain("web01", "Shop")
    assert (web02.host, web02.ok, web02.error_code) == ("web02", False, "host_unreachable")
    assert world.executor.restarts()["web01"] == []


# -- approval ------------------------------------------------------------------------------------


def test_a_worker_kill_waits_for_a_second_person_and_runs_once_when_bob_approves(world: World) -> None:
    before = shop_pids(world)
    waiting = world.service.request(HUNG, ALICE, "slack:C0SHOP")
    assert waiting.state == "awaiting_approval"
    assert restarts_on_shop(world) == {"web01": [], "web02": []}, "nothing runs before approval"
    rid = request_id(waiting)

    with pytest.raises(NotAllowed, match="a second person must approve"):
        world.service.approve(rid, ALICE)
    with pytest.raises(NotAllowed, match="never approve"):
        world.service.approve(rid, ASSISTANT)
    with pytest.raises(NotAllowed, match="not among the approvers"):
        world.service.approve(rid, CAROL)
    assert world.store.get(rid).state is RequestState.AWAITING_APPROVAL
    assert world.store.get(rid).approvals == ()

    done = world.service.approve(rid, BOB)

    assert (done.state, done.ran_now) == ("succeeded", True)
    assert approvers_of(done) == [BOB.id]
    assert restarts_on_shop(world) == {"web01": ["worker"], "web02": ["worker"]}
    for name, host in hosts_of(done).items():
        assert host.pids_before == before[name] and host.pids_after == world.executor.pids(name, POOL)
        assert not set(host.pids_before) & set(host.pids_after)


def test_a_repeated_approval_runs_nothing_more(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    world.service.approve(rid, BOB)
    after_first = shop_pids(world)

    again = world.service.approve(rid, BOB)

    assert (again.state, again.ran_now) == ("succeeded", False)
    assert restarts_on_shop(world) == {"web01": ["worker"], "web02": ["worker"]}
    assert shop_pids(world) == after_first
    assert [a.approver for a in world.store.get(rid).approvals] == [BOB.id]


def test_simultaneous_approvals_from_many_threads_run_the_kill_exactly_once(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    barrier = threading.Barrier(16)
    replies: list[RequestView] = []

    def approve() -> None:
        barrier.wait(timeout=30)
        replies.append(world.service.approve(rid, BOB))

    threads = [threading.Thread(target=approve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    assert len(replies) == 16
    assert sum(1 for reply in replies if reply.ran_now) == 1
    assert restarts_on_shop(world) == {"web01": ["worker"], "web02": ["worker"]}
    started = [e for e in world.store.audit(request_id=rid) if e.action is AuditAction.STARTED]
    assert len(started) == 1
    assert world.store.get(rid).state is RequestState.SUCCEEDED


def test_a_kill_waiting_for_approval_holds_the_pool_against_a_recycle(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))

    with pytest.raises(LockHeld) as held:
        world.service.request(RECYCLE, BOB, "cli")

    assert held.value.holder_request_id == rid and held.value.code == "locked"
    assert len(world.store.list()) == 1  # the refused overlap recorded nothing
    assert restarts_on_shop(world) == {"web01": [], "web02": []}


def test_a_locked_error_view_carries_the_holder_as_fields(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    waiting = world.store.get(rid)

    view = dispatch(RECYCLE, BOB, world.service, "cli")

    assert isinstance(view, ErrorView) and view.code == "locked" and view.holder is not None
    assert (view.holder.request_id, view.holder.requester) == (rid, ALICE.id)
    assert view.holder.until == waiting.expires_at and view.holder.since == waiting.created_at
    assert view.model_dump(mode="json")["holder"]["request_id"] == rid  # --json and MCP see it too


def test_an_approved_request_that_no_process_started_runs_on_the_next_approve(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    assert world.store.add_approval(rid, BOB.id, world.clock()).became_approved  # then the bot stopped

    reply = world.service.approve(rid, BOB)

    assert reply.state == "succeeded"
    assert restarts_on_shop(world) == {"web01": ["worker"], "web02": ["worker"]}


# -- deny, cancel, expiry ------------------------------------------------------------------------


def test_an_approver_denies_with_a_reason_nothing_runs_and_the_pool_is_free_again(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    with pytest.raises(NotAllowed, match="may not deny"):
        world.service.deny(rid, CAROL, None)

    denied = world.service.deny(rid, BOB, "not during the sale")

    assert (denied.state, denied.deny_reason) == ("denied", "not during the sale")
    stored = world.store.get(rid)
    assert stored.state is RequestState.DENIED and stored.deny_reason == "not during the sale"
    assert world.service.approve(rid, BOB).state == "denied"
    assert restarts_on_shop(world) == {"web01": [], "web02": []}
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"


def test_the_requester_cancels_her_own_waiting_request(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))

    cancelled = world.service.deny(rid, ALICE, None)

    assert cancelled.state == "cancelled"
    last = world.store.audit(request_id=rid)[-1]
    assert (last.action, last.actor) == (AuditAction.CANCELLED, ALICE.id)
    assert restarts_on_shop(world) == {"web01": [], "web02": []}
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"


def test_an_unapproved_kill_expires_on_the_clock_and_a_late_approval_runs_nothing(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    world.clock.advance(minutes=14, seconds=59)
    assert world.store.expire_due(world.clock()) == []

    world.clock.advance(seconds=1)
    late = world.service.approve(rid, BOB)

    assert late.state == "expired"
    assert world.store.get(rid).state is RequestState.EXPIRED
    assert world.store.get(rid).approvals == ()
    assert restarts_on_shop(world) == {"web01": [], "web02": []}
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"


def test_a_request_after_the_deadline_finds_the_old_one_expired_and_the_pool_free(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    world.clock.advance(minutes=20)

    assert world.service.request(RECYCLE, BOB, "cli").state == "succeeded"
    assert world.store.get(rid).state is RequestState.EXPIRED


# -- refused -------------------------------------------------------------------------------------


def test_a_request_the_policy_refuses_is_recorded_and_touches_no_host(world: World) -> None:
    reply = world.service.request(RECYCLE, CAROL, "cli")

    assert (reply.state, reply.hosts) == ("refused", [])
    stored = world.store.get(request_id(reply))
    assert stored.state is RequestState.REFUSED and stored.requester == CAROL.id
    assert stored.deny_reason
    assert [e.action for e in world.store.audit(request_id=stored.id)] == [AuditAction.REFUSED]
    assert world.executor.ran("web01") == [] and world.executor.ran("web02") == []
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"  # it locked nothing


def test_the_fourth_worker_kill_within_an_hour_is_refused_and_allowed_an_hour_later(world: World) -> None:
    for _ in range(3):
        rid = request_id(world.service.request(HUNG, ALICE, "cli"))
        assert world.service.approve(rid, BOB).state == "succeeded"
        world.clock.advance(minutes=1)

    capped = world.service.request(HUNG, ALICE, "cli")

    assert capped.state == "refused" and capped.decision is not None
    assert "rapid-fail" in " ".join(capped.decision.reasons)
    world.clock.advance(hours=1)
    assert world.service.request(HUNG, ALICE, "cli").state == "awaiting_approval"
    assert restarts_on_shop(world) == {"web01": ["worker"] * 3, "web02": ["worker"] * 3}


# -- failures ------------------------------------------------------------------------------------


def test_a_host_that_cannot_be_reached_fails_alone_and_the_pool_is_free_again(world: World) -> None:
    before = shop_pids(world)
    world.executor.fail_next("web02", HostUnreachable("web02", "connection refused"), op="apppool")

    reply = world.service.request(RECYCLE, ALICE, "cli")

    assert reply.state == "partially_failed"
    hosts = hosts_of(reply)
    assert hosts["web01"].outcome == "succeeded" and hosts["web01"].pids_after == world.executor.pids("web01", POOL)
    assert (hosts["web02"].outcome, hosts["web02"].error_code) == ("failed", "host_unreachable")
    assert world.executor.pids("web02", POOL) == before["web02"]
    assert world.store.get(request_id(reply)).state is RequestState.PARTIALLY_FAILED
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"  # locks were released


def test_a_script_error_on_the_first_prod_host_fails_the_request_and_stops_the_rollout(world: World) -> None:
    for host in SHOP:
        world.executor.report_next(host, "pool_stopped", "rapid-fail protection stopped ShopPool", op="apppool")

    reply = world.service.request(RECYCLE, ALICE, "cli")

    assert reply.state == "failed"
    # prod restarts one host at a time: web01's error stops the rollout before web02 is touched
    assert {name: (h.outcome, h.error_code) for name, h in hosts_of(reply).items()} == {
        "web01": ("failed", "pool_stopped"), "web02": ("skipped", None)}
    assert reply.untouched == ["web02"] and reply.resume == "recycle shop-web --scope apppool --from web02"
    assert world.store.get(request_id(reply)).state is RequestState.FAILED
    assert world.service.request(RECYCLE, ALICE, "cli").state == "partially_failed", "web02 meets its error now"
    assert world.service.request(RECYCLE, ALICE, "cli").state == "succeeded"


def test_a_recycle_whose_old_worker_never_exits_is_reported_failed_on_that_host(world: World) -> None:
    before = shop_pids(world)
    world.executor.hang_next("web01")

    reply = world.service.request(RECYCLE, ALICE, "cli")

    assert reply.state == "failed"  # web01 first, one host at a time in prod: web02 is left untouched
    web01 = hosts_of(reply)["web01"]
    assert (web01.outcome, web01.error_code) == ("failed", "recycle_not_finished")
    assert hosts_of(reply)["web02"].outcome == "skipped"
    assert set(before["web01"]) <= set(world.executor.pids("web01", POOL))


# -- the notifier --------------------------------------------------------------------------------


def test_the_notifier_hears_a_killed_workers_story_in_order(world: World) -> None:
    rid = request_id(world.service.request(HUNG, ALICE, "cli"))
    world.service.approve(rid, BOB)

    events = [e for e in world.notifier.events if e.request_id == rid]

    assert [(e.kind.value, e.by) for e in events] == [
        ("created", ALICE.id),
        ("awaiting_approval", ALICE.id),
        ("approved", BOB.id),
        ("started", None),
        ("host_started", None),
        ("host_finished", None),
        ("host_started", None),
        ("host_finished", None),
        ("finished", None),
    ]
    assert [e.host for e in events if e.kind.value.startswith("host_")] == ["web01", "web01", "web02", "web02"]
    assert [e.state for e in events] == ["awaiting_approval", "awaiting_approval", "approved", *["running"] * 5,
                                         "succeeded"]
    snapshots = [e.request for e in events if e.request is not None]  # each event carries the request
    assert [view.id for view in snapshots] == [rid] * 9
    assert [h.host for h in snapshots[5].hosts] == ["web01"], "a host_finished snapshot holds the hosts done so far"
    assert approvers_of(snapshots[2]) == [BOB.id]
    assert {h.host: h.outcome for h in snapshots[-1].hosts} == dict.fromkeys(SHOP, "succeeded")


def test_the_notifier_hears_an_allowed_recycle_a_refusal_and_a_denial(world: World) -> None:
    ran = request_id(world.service.request(RECYCLE, ALICE, "cli"))
    refused = request_id(world.service.request(RECYCLE, CAROL, "cli"))
    denied = request_id(world.service.request(HUNG, ALICE, "cli"))
    world.service.deny(denied, BOB, "no")

    per_host = ["host_started", "host_finished"] * 2  # prod: one host at a time
    assert world.notifier.kinds(ran) == ["created", "started", *per_host, "finished"]
    assert world.notifier.kinds(refused) == ["refused"]
    assert world.notifier.kinds(denied) == ["created", "awaiting_approval", "denied"]
    assert [e.request_id for e in world.notifier.events] == [ran] * 7 + [refused] + [denied] * 3
