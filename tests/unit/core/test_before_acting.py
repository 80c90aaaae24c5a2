"""What the hosts showed before acting, judged into the plan (bot.app.before_acting): the pure rules
the simulated and the real hosts share."""

from __future__ import annotations

import pytest

from bot.app.before_acting import is_shared_path, needs_look, with_host_checks
from bot.app.errors import HostUnreachable
from bot.app.results import BeforeActing, PoolApp, PoolSettings, StatusResult
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.inventory import Host, Inventory, Site
from policies.planner import plan
from policies.policy import Policy

SHARE = "\\\\fs01\\apps\\api"
INVENTORY = Inventory(
    hosts={name: Host(address=f"{name}.example", transport="basic", lab=True) for name in ("web01", "web02")},
    sites={"api": Site(environment="prod", hosts=["web01", "web02"], iis_site="Api", pool="ApiPool", runtime="core"),
           "shop": Site(environment="prod", hosts=["web01", "web02"], iis_site="Shop", pool="ShopPool",
                        appdomain_method="bin-marker")},
)


@pytest.mark.parametrize(("path", "shared"), [
    ("\\\\fs01\\share\\shop", True),
    ("\\\\corp.example\\dfs\\apps\\shop", True),  # a DFS namespace is a UNC path too
    ("\\\\?\\UNC\\fs01\\share\\shop", True),
    ("\\\\?\\C:\\inetpub\\shop", False),
    ("\\\\.\\C:\\inetpub\\shop", False),
    ("C:\\inetpub\\shop", False),
    ("D:\\sites\\shop", False),
])
def test_content_on_a_share_is_told_by_its_path(path, shared):
    assert is_shared_path(path) is shared


def _look(physical: str, *, core: bool = False) -> StatusResult:
    return StatusResult(ok=True, settings=PoolSettings(aspnet_core=core),
                        before_acting=BeforeActing(physical_path=physical, pool_apps=[PoolApp(site="Api", path="/")]))


def test_an_aspnet_core_app_on_a_share_keeps_its_touch_and_is_told_the_pool_recycle_restarts_one_host_at_a_time():
    the_plan = plan(RestartRequest(site="api", scope=Rung.APPDOMAIN), INVENTORY, Policy())
    assert needs_look(the_plan)

    checked = with_host_checks(the_plan, INVENTORY, {"web01": _look(SHARE, core=True), "web02": _look(SHARE)})

    assert checked.method == "touch-web-config"
    assert any("web01, web02: the content is on a share" in w and "--scope apppool" in w for w in checked.warnings)


def test_a_bin_marker_on_a_share_becomes_an_unload_and_a_host_not_read_is_named():
    the_plan = plan(RestartRequest(site="shop", scope=Rung.APPDOMAIN), INVENTORY, Policy())

    checked = with_host_checks(the_plan, INVENTORY, {"web01": _look(SHARE),
                                                     "web02": HostUnreachable("web02", "no answer on 5985")})

    assert checked.method == "wmi-unload"
    assert any(w.startswith("web01: the content is on a share") and "instead of bin-marker" in w
               for w in checked.warnings)
    assert any(w.startswith("web02: could not be read before acting (host_unreachable") for w in checked.warnings)


def test_an_unload_by_wmi_needs_no_look_unless_the_policy_falls_back_to_a_touch():
    site = INVENTORY.sites["shop"].model_copy(update={"appdomain_method": "wmi-unload"})
    inventory = INVENTORY.model_copy(update={"sites": {**INVENTORY.sites, "shop": site}})
    request = RestartRequest(site="shop", scope=Rung.APPDOMAIN)

    assert not needs_look(plan(request, inventory, Policy()))
    falls_back = plan(request, inventory, Policy(appdomain_fallback="touch-web-config"))
    assert needs_look(falls_back)
    checked = with_host_checks(falls_back, inventory, {"web01": _look(SHARE), "web02": _look("C:\\inetpub\\shop")})
    assert checked.method == "wmi-unload" and checked.appdomain_fallback == "mwa-unload"
