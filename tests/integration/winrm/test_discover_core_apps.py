"""`discover` through real WinRM against the simulated farm tells ASP.NET Core apps by their ANCM
handler, as the operations do, not by a No Managed Code pool (docs/iis-behaviour.md), one
application whose configuration cannot be read does not hide the others, and a stuck WMI
repository is named as such."""

from __future__ import annotations

from bot.app.results import DiscoverResult, OperationParams
from bot.sim.iis import OUT_OF_PROCESS
from bot.winrm.discovery import inventory_toml
from policies.files import parse_inventory


def _discover(executor, client, host: str) -> DiscoverResult:
    result = executor.run(host, client.hosts[host], OperationParams(op="discover", timeout_s=5))
    assert isinstance(result, DiscoverResult) and result.ok, result
    return result


def test_a_static_site_in_a_no_managed_code_pool_is_no_core_app_and_a_core_app_in_a_clr_pool_is(
    farm, client, executor
):
    iis = farm.host("web03").iis
    iis.add_pool("StaticPool", managed_runtime="")
    iis.add_app("Intranet", "/docs", "StaticPool")  # static files: no ANCM handler
    iis.add_app("Intranet", "/orders", "SharedPool").hosting_model = OUT_OF_PROCESS  # Core in a v4.0 pool

    found = _discover(executor, client, "web03")

    apps = {(s.name, a.path): a for s in found.sites for a in s.apps}
    assert apps[("Intranet", "/docs")].aspnet_core is False
    assert apps[("Intranet", "/orders")].aspnet_core is True
    assert apps[("Intranet", "/orders")].hosting_model == "outofprocess"
    assert apps[("CoreApi", "/")].aspnet_core is True
    sites = {(s.iis_site, s.app): s for s in parse_inventory(inventory_toml(found, "web03"), "x").sites.values()}
    assert sites[("Intranet", "/docs")].runtime == "clr"
    assert sites[("Intranet", "/orders")].runtime == "core"
    assert sites[("CoreApi", "/")].runtime == "core"


def test_an_app_whose_configuration_cannot_be_read_is_reported_and_the_others_are_listed(farm, client, executor):
    farm.host("web03").iis.app("Intranet", "/api").config_error = "Configuration file is not well-formed XML"

    found = _discover(executor, client, "web03")

    apps = {(s.name, a.path): a for s in found.sites for a in s.apps}
    broken = apps[("Intranet", "/api")]
    assert broken.aspnet_core is None and "not well-formed XML" in broken.config_error
    assert apps[("Intranet", "/")].aspnet_core is False and apps[("CoreApi", "/")].aspnet_core is True
    assert "could not be read" in inventory_toml(found, "web03")


def test_discover_on_a_stuck_wmi_repository_says_so_within_the_bound(farm, client, executor):
    farm.host("web03").iis.wmi_stuck = True  # Test-WmiProvider's Get-CimClass never answers

    found = executor.run("web03", client.hosts["web03"], OperationParams(op="discover", timeout_s=5, cim_timeout_s=1))

    assert isinstance(found, DiscoverResult) and not found.ok and found.error_code == "wmi_timeout"
    assert "winmgmt /verifyrepository" in (found.error or "")
