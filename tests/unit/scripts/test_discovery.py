"""`aspreset inventory discover HOST` turns one host's discover result into inventory TOML that loads
as it is and that the team finishes by hand."""

from __future__ import annotations

import tomllib

import pytest

from bot.app.errors import ScriptFailed
from bot.app.results import DiscoveredApp, DiscoveredPool, DiscoveredSite, DiscoverResult
from bot.winrm.discovery import ENVIRONMENT_PLACEHOLDER, inventory_name, inventory_toml
from policies.files import parse_inventory


def _farm() -> DiscoverResult:
    return DiscoverResult(
        ok=True,
        iis_major_version=10,
        sites=[
            DiscoveredSite(
                name="Default Web Site",
                state="Started",
                bindings=["http/*:80:"],
                apps=[
                    DiscoveredApp(path="/", pool="DefaultAppPool", physical_path=r"C:\inetpub\wwwroot"),
                    DiscoveredApp(path="/legacy", pool="DefaultAppPool", physical_path=r"D:\legacy"),
                ],
            ),
            DiscoveredSite(
                name="Shop",
                state="Started",
                bindings=["http/*:80:shop.example", "https/*:443:shop.example"],
                apps=[
                    DiscoveredApp(path="/", pool="ShopPool", physical_path=r"D:\shop"),
                    DiscoveredApp(path="/api", pool="ShopApiPool", physical_path=r"D:\shop-api", aspnet_core=True,
                                  hosting_model="inprocess"),
                    DiscoveredApp(path="/static", pool="ShopApiPool", physical_path=r"D:\shop-static"),
                ],
            ),
        ],
        pools=[
            DiscoveredPool(
                name="DefaultAppPool", state="Started", managed_runtime="v4.0", start_mode="OnDemand", max_processes=1
            ),
            DiscoveredPool(
                name="ShopPool", state="Started", managed_runtime="v4.0", start_mode="AlwaysRunning", max_processes=2
            ),
            DiscoveredPool(
                name="ShopApiPool", state="Started", managed_runtime="", start_mode="OnDemand", max_processes=1
            ),
        ],
    )


def test_the_output_loads_as_an_inventory_with_one_site_per_application_root_included():
    inventory = parse_inventory(inventory_toml(_farm(), "web01.shop.example"), "discovered.toml")
    assert set(inventory.hosts) == {"web01.shop.example"}
    assert inventory.hosts["web01.shop.example"].address == "web01.shop.example"
    assert inventory.hosts["web01.shop.example"].iis_major_version == 10
    found = {(s.iis_site, s.app, s.pool) for s in inventory.sites.values()}
    assert found == {
        ("Default Web Site", "/", "DefaultAppPool"),
        ("Default Web Site", "/legacy", "DefaultAppPool"),
        ("Shop", "/", "ShopPool"),
        ("Shop", "/api", "ShopApiPool"),
        ("Shop", "/static", "ShopApiPool"),
    }
    assert set(inventory.sites) == {"default-web-site", "default-web-site-legacy", "shop", "shop-api", "shop-static"}
    assert all(site.hosts == ["web01.shop.example"] for site in inventory.sites.values())


def test_every_environment_is_a_placeholder_marked_for_the_team_to_fill():
    text = inventory_toml(_farm(), "web01")
    env_lines = [line for line in text.splitlines() if line.startswith("environment")]
    assert len(env_lines) == 5
    assert all(line.startswith(f'environment = "{ENVIRONMENT_PLACEHOLDER}"  # placeholder') for line in env_lines)
    assert {s.environment for s in parse_inventory(text, "x").sites.values()} == {ENVIRONMENT_PLACEHOLDER}


def test_core_apps_shared_pools_and_sub_applications_are_described():
    text = inventory_toml(_farm(), "web01")
    sites = parse_inventory(text, "x").sites
    assert sites["shop-api"].runtime == "core"
    assert sites["shop"].runtime == "clr"
    assert sites["shop-api"].warmup_path == "/api/"
    assert sites["shop"].warmup_path == "/"
    assert 'pool "DefaultAppPool": Started, v4.0, OnDemand, maxProcesses 1, shared by 2 applications' in text
    assert "# ASP.NET Core under ANCM, inprocess" in text


def test_asp_net_core_is_told_by_the_apps_module_not_by_a_no_managed_code_pool():
    # A static site in a No Managed Code pool is no Core app; a Core app in a v4.0 pool is one.
    farm = _farm()
    farm.sites[0].apps[1] = DiscoveredApp(path="/legacy", pool="DefaultAppPool", physical_path=r"D:\legacy",
                                          aspnet_core=True, hosting_model="outofprocess")
    sites = parse_inventory(inventory_toml(farm, "web01"), "x").sites
    assert sites["shop-static"].runtime == "clr"
    assert sites["default-web-site-legacy"].runtime == "core"


def test_an_app_whose_configuration_could_not_be_read_is_listed_and_says_so():
    farm = _farm()
    farm.sites[1].apps[2] = DiscoveredApp(path="/static", pool="ShopApiPool", physical_path=r"D:\shop-static",
                                          aspnet_core=None, config_error="internal: malformed web.config\nline 3")
    text = inventory_toml(farm, "web01")
    assert parse_inventory(text, "x").sites["shop-static"].runtime == "clr"
    assert 'could not be read ("internal: malformed web.config\\nline 3")' in text
    assert 'set runtime = "core" by hand' in text


def test_an_address_can_differ_from_the_host_name():
    text = inventory_toml(_farm(), "Web 01!", address="10.0.0.5")
    inventory = parse_inventory(text, "x")
    assert inventory.hosts["web-01"].address == "10.0.0.5"


def test_hostile_names_from_the_host_cannot_break_the_file_or_its_comments():
    hostile = 'Shop"\n[hosts.evil]\naddress = "x" # \u2019`$(calc)'
    result = DiscoverResult(
        ok=True,
        iis_major_version=10,
        sites=[
            DiscoveredSite(
                name=hostile, state="Started", apps=[DiscoveredApp(path="/", pool=hostile, physical_path=hostile)]
            )
        ],
        pools=[
            DiscoveredPool(
                name=hostile, state="Stopped", managed_runtime="v4.0", start_mode="OnDemand", max_processes=1
            )
        ],
    )
    text = inventory_toml(result, "web01")
    data = tomllib.loads(text)
    assert set(data["hosts"]) == {"web01"}
    inventory = parse_inventory(text, "x")
    [site] = inventory.sites.values()
    assert site.iis_site == hostile and site.pool == hostile


def test_applications_whose_names_collide_get_distinct_keys():
    result = DiscoverResult(
        ok=True,
        iis_major_version=10,
        sites=[
            DiscoveredSite(name="Shop", state="Started", apps=[DiscoveredApp(path="/", pool="A", physical_path="")]),
            DiscoveredSite(name="shop", state="Started", apps=[DiscoveredApp(path="/", pool="B", physical_path="")]),
            DiscoveredSite(name="Shop!", state="Started", apps=[DiscoveredApp(path="/", pool="C", physical_path="")]),
        ],
    )
    assert set(parse_inventory(inventory_toml(result, "web01"), "x").sites) == {"shop", "shop-2", "shop-3"}


def test_an_iis6_host_in_iis5_isolation_gets_its_host_entry_and_an_empty_sites_table():
    result = DiscoverResult(ok=True, iis_major_version=6, iis5_isolation=True)
    text = inventory_toml(result, "web04")
    inventory = parse_inventory(text, "x")
    assert inventory.hosts["web04"].iis5_isolation is True
    assert inventory.hosts["web04"].iis_major_version == 6
    assert inventory.sites == {}
    assert "add this host's sites by hand" in text


def test_a_failed_discovery_raises_with_the_scripts_code_and_message():
    result = DiscoverResult(ok=False, error_code="access_denied", error="access denied: run elevated")
    with pytest.raises(ScriptFailed) as raised:
        inventory_toml(result, "web01")
    assert raised.value.code == "access_denied"
    assert "run elevated" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Default Web Site", "default-web-site"),
        ("--x--", "x"),
        ("!!!", "site"),
        ("a" * 80, "a" * 63),
        ("Shop/api/v2", "shop-api-v2"),
        ("web01.corp.example", "web01.corp.example"),
    ],
)
def test_inventory_names_are_derived_from_free_text(text, name):
    assert inventory_name(text) == name


def test_the_optional_features_a_host_lacks_are_named_in_a_comment_with_what_to_install():
    from bot.app.results import DiscoverResult, Features
    from bot.winrm.discovery import inventory_toml

    found = DiscoverResult(ok=True, iis_major_version=10, features=Features(wmi_provider=False, aspnet=True,
                                                                           webadministration_module=True))
    text = inventory_toml(found, "web09")
    assert "# Not installed on this host: the WMI provider (Install-WindowsFeature Web-Scripting-Tools" in text
    assert "ASP.NET" not in text.split("Not installed")[1].split("\n")[0]
