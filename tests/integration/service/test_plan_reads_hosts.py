"""A plan shows what the hosts really run before anything is done (docs/iis-behaviour.md, "Checks
before acting"): the applications IIS has in the pool are the blast radius (the inventory may be
stale), content on a share is restarted by an unload rather than a touch, and before a kill the
requests in flight and the pool's recent WAS events are in the plan the approver sees."""

from __future__ import annotations

import time

import pytest

from bot.cli.render import plan_text
from bot.mcp.text import plan as mcp_plan_text
from bot.slack.blocks import render_plan_lines
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.identity import Principal
from policies.inventory import Inventory

ALICE = Principal(id="U01ALICE")
BOB = Principal(id="U02BOB")
SHARE = "\\\\fs01\\content\\shop"


def test_an_application_iis_runs_in_the_pool_but_the_inventory_omits_is_in_the_blast_radius(make_service, demo_farm):
    web03 = demo_farm.host("web03").iis
    web03.add_app("Intranet", "/reports", "SharedPool")  # deployed there after the inventory was written
    web03.add_pool("ApiPool")
    web03.app("Intranet", "/api").pool = "ApiPool"  # moved out of the shared pool meanwhile

    view = make_service().plan(RestartRequest(site="intranet", scope=Rung.APPPOOL), ALICE)

    assert view.blast_radius == ["Intranet/reports (not in the inventory)", "intranet"]
    assert any(w.startswith("web03: IIS runs Intranet/reports (not in the inventory) in pool SharedPool too")
               and "update the inventory" in w for w in view.warnings)
    assert any("the inventory lists intranet-api in pool SharedPool, but IIS does not run it there" in w
               for w in view.warnings)
    assert any("pool SharedPool is shared" in w and "Intranet/reports" in w for w in view.warnings)
    for text in (plan_text(view), mcp_plan_text(view), "\n".join(render_plan_lines(view))):
        assert "Intranet/reports (not in the inventory)" in text


def test_a_plan_says_which_host_could_not_be_read_and_shows_the_inventorys_blast_radius(make_service, demo_farm):
    demo_farm.host("web03").inject_hang()  # web03's WinRM stops answering

    view = make_service().plan(RestartRequest(site="intranet", scope=Rung.APPPOOL), ALICE)

    assert view.blast_radius == ["intranet", "intranet-api"]
    assert any(w.startswith("web03: could not be read before acting") for w in view.warnings)


@pytest.fixture
def farm_inventory(demo_farm) -> Inventory:
    """The demo farm, with shop-web's AppDomain restarted by touching web.config."""
    inventory = demo_farm.client_inventory()
    shop = inventory.sites["shop-web"].model_copy(update={"appdomain_method": "touch-web-config"})
    return inventory.model_copy(update={"sites": {**inventory.sites, "shop-web": shop}})


def test_content_on_a_share_is_restarted_by_an_unload_not_a_touch_that_would_restart_every_host_at_once(
    make_service, demo_farm
):
    for name in ("web01", "web02"):
        demo_farm.host(name).iis.app("Shop").physical_path = SHARE  # both servers serve one share
    service = make_service()

    view = service.plan(RestartRequest(site="shop-web", scope=Rung.APPDOMAIN), ALICE)
    done = service.request(RestartRequest(site="shop-web", scope=Rung.APPDOMAIN), ALICE, "cli")

    assert view.method == "wmi-unload"
    assert any(w.startswith("web01, web02: the content is on a share (\\\\fs01\\content\\shop)")
               and "defeats the waves" in w and "instead of touch-web-config" in w for w in view.warnings)
    assert done.state == "succeeded" and {h.method for h in done.hosts} == {"wmi-unload"}
    for name in ("web01", "web02"):
        steps = [c for c in demo_farm.host(name).received if b"operation: appdomain" in bytes(c.stdin)]
        assert len(steps) == 1


def test_content_on_local_disk_keeps_the_touch_the_site_asked_for(make_service):
    view = make_service().plan(RestartRequest(site="shop-web", scope=Rung.APPDOMAIN), ALICE)

    assert view.method == "touch-web-config" and not any("share" in w for w in view.warnings)


def test_before_a_kill_the_approver_sees_the_requests_in_flight_and_the_pools_recent_was_events(
    make_service, demo_farm
):
    web01, web02 = demo_farm.host("web01").iis, demo_farm.host("web02").iis
    assert web01.request_monitor and not web02.request_monitor  # the default farm: an optional feature
    web01.app("Shop").in_flight = [("POST", "/checkout?card=4111111111111111", time.monotonic() - 42)]
    web01.crash(web01.pool("ShopPool"))  # WAS logs 5009
    web01.start_workers()

    waiting = make_service().request(RestartRequest(site="shop-web", reason=Reason.HUNG), ALICE, "cli")

    assert waiting.state == "awaiting_approval" and waiting.plan is not None
    seen = waiting.plan.seen_on_hosts
    assert any(line.startswith("web01: 1 request(s) in flight in pool ShopPool, which the kill ends")
               and "POST /checkout (42 s)" in line for line in seen), seen
    assert "web02: requests in flight in pool ShopPool: unknown (Request Monitor not installed)" in seen
    assert any(line.startswith("web01: WAS events of pool ShopPool") and "1x 5009 (worker ended unexpectedly)" in line
               for line in seen)
    assert any(line.startswith("web02: no WAS failure event for pool ShopPool") for line in seen)
    shown = [plan_text(waiting.plan), mcp_plan_text(waiting.plan), "\n".join(render_plan_lines(waiting.plan))]
    for text in shown:
        assert "Request Monitor not installed" in text and "5009" in text
        assert "4111" not in text  # a query string may carry secrets: never shown
