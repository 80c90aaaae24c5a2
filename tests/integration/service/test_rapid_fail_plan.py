"""The plan for a worker kill reads the pool's rapid-fail protection from every host and refuses a
kill that would stop the pool, offering the recycle; nothing is killed."""

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
