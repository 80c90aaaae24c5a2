"""The plan for a worker kill reads the pool's rapid-fail protection from every host and refuses a
kill that would stop the pool, offering the recycle; nothing is killed. The pool's own crashes in
the System log count as the bot's kills do, and a host that cannot tell holds the kill."""

from __future__ import annotations

from commands.model import Reason, RestartRequest
from policies.identity import Principal

ALICE = Principal(id="U01ALICE")
HUNG = RestartRequest(site="shop-web", reason=Reason.HUNG)


def test_a_kill_of_a_five_worker_web_garden_is_refused_before_anything_runs(make_service, demo_farm):
    web01 = demo_farm.host("web01")
    web01.pool("ShopPool").max_processes = 5
    web01.iis.start_workers()

    view = make_service().plan(HUNG, ALICE)

    assert view.decision.outcome == "refuse" and view.decision.alternative == "apppool"
    assert view.decision.rule == "rapid-fail protection"
    assert any("web01" in reason and "5 worker(s)" in reason for reason in view.decision.reasons)
    assert not any(b"operation: worker" in bytes(c.stdin) for c in web01.received)
    assert web01.pool("ShopPool").state == "Started"


def test_a_single_worker_kill_within_the_budget_is_planned_as_usual(make_service, demo_farm):
    view = make_service().plan(HUNG, ALICE)
    assert view.decision.outcome == "needs_approval"


def test_the_pools_own_crashes_in_the_system_log_refuse_a_kill_the_store_never_recorded(make_service, demo_farm):
    web01 = demo_farm.host("web01")
    pool = web01.pool("ShopPool")
    for _ in range(4):  # the app crashed its worker four times: WAS logged 5009 for each
        web01.iis.crash(pool)
    web01.iis.start_workers()

    view = make_service().plan(HUNG, ALICE)

    assert view.decision.outcome == "refuse" and view.decision.alternative == "apppool"
    assert any("web01" in r and "4 worker failure(s) in the System log" in r for r in view.decision.reasons)
    assert web01.pool("ShopPool").state == "Started"


def test_a_host_whose_system_log_cannot_be_read_holds_the_kill_and_says_why(make_service, demo_farm):
    demo_farm.host("web02").iis.was_events_readable = False

    view = make_service().plan(HUNG, ALICE)

    assert view.decision.outcome == "refuse" and view.decision.alternative == "apppool"
    reason = view.decision.reasons[0]
    assert reason.startswith("web02: the WAS events in its System log could not be read (access_denied")


def test_a_host_whose_status_cannot_be_read_holds_the_kill_and_says_why(make_service, demo_farm):
    demo_farm.host("web02").inject_unauthorized()

    view = make_service().plan(HUNG, ALICE)

    assert view.decision.outcome == "refuse" and view.decision.alternative == "apppool"
    assert view.decision.reasons[0].startswith("web02: its status could not be read (")
    assert not any(b"operation: worker" in bytes(c.stdin) for c in demo_farm.host("web01").received)
