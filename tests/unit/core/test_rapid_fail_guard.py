"""A worker kill that would trip the pool's rapid-fail protection is refused with the recycle
offered instead: every killed worker counts as a crash (docs/iis-behaviour.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.decision import PoolHealth, Refuse, rapid_fail_guard, time_guards
from policies.files import default_policy
from policies.inventory import Host, Inventory, Site
from policies.planner import plan

INVENTORY = Inventory(hosts={"web01": Host(address="web01")},
                      sites={"shop": Site(environment="prod", hosts=["web01"], iis_site="Shop", pool="ShopPool")})
KILL = plan(RestartRequest(site="shop", reason=Reason.HUNG), INVENTORY, default_policy())


def health(workers: int, recent: int = 0, enabled: bool = True, max_crashes: int = 5, crashes: int = 0) -> PoolHealth:
    return PoolHealth("web01", enabled, max_crashes, 300.0, workers, recent, crashes)


def test_killing_a_web_garden_of_five_at_once_is_refused_and_the_recycle_offered():
    refused = rapid_fail_guard(KILL, [health(workers=5)], "policy.toml")
    assert isinstance(refused, Refuse) and refused.alternative == Rung.APPPOOL
    assert refused.rule == "rapid-fail protection"
    assert "5 worker(s) of pool ShopPool" in refused.reasons[0] and "5 crashes in 5 min" in refused.reasons[0]
    assert "--scope apppool" in refused.reasons[1]


def test_recent_kills_within_the_interval_count_towards_the_limit():
    assert rapid_fail_guard(KILL, [health(workers=1, recent=3)], "p") is None
    assert isinstance(rapid_fail_guard(KILL, [health(workers=1, recent=4)], "p"), Refuse)


def test_no_worker_to_kill_or_protection_turned_off_never_refuses():
    assert rapid_fail_guard(KILL, [health(workers=0, recent=4)], "p") is None
    assert rapid_fail_guard(KILL, [health(workers=5, enabled=False)], "p") is None


def test_the_guard_is_among_the_checks_made_again_when_the_last_approval_arrives():
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert isinstance(time_guards(KILL, default_policy(), now, 0, [health(workers=5)]), Refuse)
    recycle = plan(RestartRequest(site="shop", scope=Rung.APPPOOL), INVENTORY, default_policy())
    assert time_guards(recycle, default_policy(), now, 0, [health(workers=5)]) is None


def test_the_pools_own_crashes_in_the_system_log_count_towards_the_limit():
    assert rapid_fail_guard(KILL, [health(workers=1, crashes=3)], "p") is None
    refused = rapid_fail_guard(KILL, [health(workers=1, crashes=4)], "p")
    assert isinstance(refused, Refuse) and refused.alternative == Rung.APPPOOL
    assert "4 worker failure(s) in the System log" in refused.reasons[0]


def test_the_kills_the_store_recorded_are_not_counted_twice_as_they_log_crash_events_too():
    # Three recorded kills logged three WAS 5009 events: three failures, plus this kill's one.
    assert rapid_fail_guard(KILL, [health(workers=1, recent=3, crashes=3)], "p") is None
    assert isinstance(rapid_fail_guard(KILL, [health(workers=1, recent=3, crashes=4)], "p"), Refuse)


def test_a_host_that_cannot_tell_holds_the_kill_with_the_reason():
    unknown = PoolHealth.unknown("web02", "its status could not be read (execution_failed: timed out)")
    refused = rapid_fail_guard(KILL, [health(workers=1), unknown], "p")
    assert isinstance(refused, Refuse) and refused.alternative == Rung.APPPOOL
    assert refused.reasons[0].startswith("web02: its status could not be read (execution_failed: timed out)")
    assert "trip rapid-fail protection unseen" in refused.reasons[0]
