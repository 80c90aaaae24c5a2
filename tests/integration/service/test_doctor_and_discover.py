"""`aspreset doctor` and `aspreset inventory discover` against the simulated farm: read-only, and
every failing check comes with its fix."""

from __future__ import annotations

import json

from bot.cli import main
from bot.sim.cli import inventory_toml
from policies.files import parse_inventory


def farm_file(tmp_path, farm_inventory):
    path = tmp_path / "farm.toml"
    path.write_text(inventory_toml(farm_inventory))
    return str(path)


def test_doctor_passes_a_ready_host_and_changes_nothing(demo_farm, farm_inventory, tmp_path, capsys):
    pids = demo_farm.host("web01").pids("ShopPool")
    code = main(["doctor", "web01", "--inventory", farm_file(tmp_path, farm_inventory), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"]
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "transport encryption",
        "WinRM reachable and authenticated",
        "PowerShell version",
        "IIS version",
        "WMI provider root\\WebAdministration",
        "WebAdministration module",
        "ASP.NET 4.x",
        "read shop-web",
    ]
    assert demo_farm.host("web01").pids("ShopPool") == pids
    assert not any(b"operation: worker" in bytes(c.stdin) or b"operation: apppool" in bytes(c.stdin)
                   for c in demo_farm.host("web01").received)


def test_doctor_names_the_fix_for_refused_credentials_and_for_an_iis6_host(
    demo_farm, farm_inventory, tmp_path, capsys
):
    demo_farm.host("web02").inject_unauthorized()
    code = main(["doctor", "--inventory", farm_file(tmp_path, farm_inventory), "--json"])
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert code == 1
    failed = {(c["host"], c["name"]): c for c in checks if not c["ok"]}
    assert "Kerberos SPN" in failed[("web02", "authentication")]["fix"]
    assert "Windows Management Framework" in failed[("web04", "PowerShell version")]["fix"]
    assert all(c["ok"] for c in checks if c["host"] in ("web01", "web03"))


def test_doctor_says_a_host_runs_powershell_in_constrained_language_mode_and_what_to_do(
    demo_farm, farm_inventory, tmp_path, capsys
):
    demo_farm.host("web01").iis.language_mode = "ConstrainedLanguage"
    code = main(["doctor", "web01", "--inventory", farm_file(tmp_path, farm_inventory), "--json"])
    checks = json.loads(capsys.readouterr().out)["checks"]
    failed = [c for c in checks if not c["ok"]]
    assert code == 1 and [c["name"] for c in failed] == ["PowerShell language mode"]
    assert "ConstrainedLanguage" in failed[0]["detail"] and "WDAC or AppLocker" in failed[0]["fix"]


def test_discover_prints_inventory_toml_that_loads_and_names_the_sites_apps_and_pools(
    demo_farm, farm_inventory, tmp_path, capsys
):
    code = main(["inventory", "discover", "web03", "--inventory", farm_file(tmp_path, farm_inventory)])
    text = capsys.readouterr().out
    assert code == 0
    found = parse_inventory(text, "discovered")
    assert {(s.iis_site, s.app, s.pool) for s in found.sites.values()} == {
        ("Intranet", "/", "SharedPool"), ("Intranet", "/api", "SharedPool"), ("Canary", "/", "CanaryPool")
    }
    assert all(s.environment == "unknown" for s in found.sites.values())
