from __future__ import annotations

import pytest

from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.files import parse_inventory
from policies.planner import PlanError, plan


@pytest.mark.parametrize(
    ("changed", "rung"),
    [
        ("bin/Shop.Web.dll", Rung.NONE),
        ("web.config", Rung.NONE),
        ("Views/web.config", Rung.NONE),
        ("Global.asax", Rung.NONE),
        ("App_Code/Cart.cs", Rung.NONE),
        ("App_GlobalResources/Strings.resx", Rung.NONE),
        ("App_Config/connectionStrings.config", Rung.APPDOMAIN),
        ("settings/other.config", Rung.APPDOMAIN),
        ("App_Data/settings.xml", Rung.APPDOMAIN),
        ("App_Data/shop.mdf", Rung.APPPOOL),
        ("App_Data/shop_log.ldf", Rung.APPPOOL),
        ("Content/site.css", Rung.NONE),
        ("BIN\\Shop.Web.DLL", Rung.NONE),
    ],
)
def test_each_changed_file_plans_the_narrowest_rung_of_the_trigger_table(
    changed, rung, example_policy, example_inventory
):
    result = plan(RestartRequest(site="shop-web", changed=(changed,)), example_inventory, example_policy)
    assert result.rung == rung
    assert result.needed == rung
    assert result.why and changed in result.why[0]


@pytest.mark.parametrize(
    ("reason", "rung"),
    [
        (Reason.HUNG, Rung.WORKER),
        (Reason.LOCKED_FILE, Rung.APPPOOL),
        (Reason.GAC, Rung.APPPOOL),
        (Reason.MEMORY, Rung.APPPOOL),
        (Reason.CONFIG, Rung.APPDOMAIN),
        (Reason.NATIVE_MODULE, Rung.APPPOOL),
    ],
)
def test_each_reason_plans_its_rung(reason, rung, example_policy, example_inventory):
    result = plan(RestartRequest(site="shop-web", reason=reason), example_inventory, example_policy)
    assert result.rung == rung


def test_several_changes_plan_the_widest_rung_any_of_them_needs(example_policy, example_inventory):
    request = RestartRequest(site="shop-web", changed=("bin/A.dll", "App_Data/db.mdf", "App_Config/x.config"))
    assert plan(request, example_inventory, example_policy).rung == Rung.APPPOOL


def test_no_trigger_and_no_scope_plans_an_appdomain_restart(example_policy, example_inventory):
    result = plan(RestartRequest(site="shop-web"), example_inventory, example_policy)
    assert result.rung == Rung.APPDOMAIN and result.needed is None
    assert result.method == "wmi-unload"


def test_an_explicit_scope_without_trigger_is_taken_as_asked(example_policy, example_inventory):
    result = plan(RestartRequest(site="shop-web", scope=Rung.APPPOOL), example_inventory, example_policy)
    assert result.rung == Rung.APPPOOL and result.wider_than_needed is None


def test_a_scope_wider_than_the_trigger_needs_is_flagged(example_policy, example_inventory):
    request = RestartRequest(site="shop-web", scope=Rung.APPPOOL, changed=("bin/Shop.Web.dll",))
    result = plan(request, example_inventory, example_policy)
    assert result.wider_than_needed == "apppool is wider than needed: none would do"


def test_a_pool_recycle_shows_every_app_sharing_the_pool(example_policy, example_inventory):
    result = plan(RestartRequest(site="intranet", reason=Reason.GAC), example_inventory, example_policy)
    assert result.blast_radius == ("intranet", "intranet-api")
    assert any("intranet-api" in w for w in result.warnings)


def test_an_appdomain_restart_hits_only_its_own_app(example_policy, example_inventory):
    result = plan(RestartRequest(site="intranet"), example_inventory, example_policy)
    assert result.blast_radius == ("intranet",)


def test_host_option_narrows_the_hosts(example_policy, example_inventory):
    result = plan(RestartRequest(site="shop-web", hosts=("web02",)), example_inventory, example_policy)
    assert result.hosts == ("web02",)


def test_unknown_site_and_host_name_close_matches(example_policy, example_inventory):
    with pytest.raises(PlanError, match="did you mean shop-web"):
        plan(RestartRequest(site="shop-wbe"), example_inventory, example_policy)
    with pytest.raises(PlanError, match="its hosts: web01, web02"):
        plan(RestartRequest(site="shop-web", hosts=("web03",)), example_inventory, example_policy)


def test_aspnet_core_apps_restart_by_touching_web_config(example_policy):
    inventory = parse_inventory(
        """
[hosts.h1]
address = "h1"
[sites.api]
environment = "prod"
hosts = ["h1"]
iis_site = "Api"
pool = "ApiPool"
runtime = "core"
""",
        "test",
    )
    result = plan(RestartRequest(site="api", changed=("Api.dll",)), inventory, example_policy)
    assert result.rung == Rung.APPDOMAIN and result.method == "touch-web-config"
    result = plan(RestartRequest(site="api", changed=("web.config",)), inventory, example_policy)
    assert result.rung == Rung.NONE


def test_iis5_isolation_hosts_are_named_in_the_plan(example_policy, example_inventory):
    result = plan(RestartRequest(site="legacy"), example_inventory, example_policy)
    assert result.iis5_hosts == ("web04",)
