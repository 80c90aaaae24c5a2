"""Where warm-up requests go: a site's own URL wins; a lab farm's base URL next; otherwise the script
uses the site's own binding on the host. Every rung warms up on the host itself, the none rung too."""

from __future__ import annotations

from bot.app.execution import operation_params, script_warmup_url
from commands.model import RestartRequest
from policies.files import default_policy, parse_inventory
from policies.planner import plan

INVENTORY = """
[hosts.web01]
address = "web01.corp.example"
[hosts.lab01]
address = "127.0.0.1"
lab = true
transport = "basic"
warmup_base_url = "http://127.0.0.1:8081"
[sites.shop]
environment = "prod"
hosts = ["web01", "lab01"]
iis_site = "Shop"
pool = "ShopPool"
app = "/shop"
warmup_path = "/shop/health"
[sites.bound]
environment = "prod"
hosts = ["web01"]
iis_site = "Bound"
pool = "BoundPool"
warmup_url = "http://shop.example.com/health"
"""


def planned(site: str):
    inventory = parse_inventory(INVENTORY, "inv.toml")
    return plan(RestartRequest(site=site), inventory, default_policy()), inventory


def test_a_real_host_lets_the_script_use_the_sites_own_binding():
    the_plan, inventory = planned("shop")
    assert script_warmup_url(the_plan, inventory.hosts["web01"]) == ""
    params = operation_params(the_plan, inventory.hosts["web01"], "r-1", 30)
    assert params.warmup_url == "" and params.warmup_path == "/shop/health"


def test_a_lab_host_is_warmed_through_its_base_url():
    the_plan, inventory = planned("shop")
    assert script_warmup_url(the_plan, inventory.hosts["lab01"]) == "http://127.0.0.1:8081/shop/health"
    params = operation_params(the_plan, inventory.hosts["lab01"], "r-1", 30)
    assert params.op == "appdomain" and params.warmup_url == "http://127.0.0.1:8081/shop/health"


def test_a_site_bound_to_a_host_name_uses_its_own_warmup_url_everywhere():
    the_plan, inventory = planned("bound")
    assert script_warmup_url(the_plan, inventory.hosts["web01"]) == "http://shop.example.com/health"


def test_the_none_rung_asks_the_host_for_a_warm_up_then_its_state():
    the_plan, inventory = planned("shop")
    none = plan(RestartRequest(site="shop", changed=("bin/Shop.dll",)), inventory, default_policy())
    params = operation_params(none, inventory.hosts["web01"], "r-1", 30)
    assert params.op == "status" and params.warm_up and params.warmup_path == "/shop/health"
    assert not operation_params(the_plan, inventory.hosts["web01"], "r-1", 30).warm_up
