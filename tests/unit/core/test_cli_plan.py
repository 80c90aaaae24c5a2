"""The CLI contract of the core: `plan`, `say` and `policy check` with the example files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(EXAMPLES / "inventory.toml")]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "plan", *argv, *FILES, "--json")
    return code, json.loads(out)


def test_a_changed_dll_plans_no_restart_at_all(capsys):
    code, data = plan_json(capsys, "shop-web", "--changed", "bin/Shop.Web.dll", "--as", "alice")
    assert code == 0
    assert data["rung"] == "none" and data["hosts"] == ["web01", "web02"]
    assert data["decision"]["outcome"] == "allow"
    assert set(data) >= {"site", "rung", "method", "hosts", "blast_radius", "wider_than_needed", "decision"}


def test_an_external_config_file_plans_an_appdomain_restart(capsys):
    code, data = plan_json(capsys, "shop-web", "--changed", "App_Config/connectionStrings.config", "--as", "alice")
    assert code == 0 and data["rung"] == "appdomain"


def test_a_gac_update_recycles_the_pool_and_shows_the_shared_apps(capsys):
    code, data = plan_json(capsys, "intranet", "--reason", "gac", "--as", "alice")
    assert code == 0 and data["rung"] == "apppool"
    assert data["blast_radius"] == ["intranet", "intranet-api"]


def test_a_hung_app_plans_a_worker_kill_that_needs_bobs_approval(capsys):
    code, data = plan_json(capsys, "shop-web", "--reason", "hung", "--as", "alice")
    assert code == 0
    assert data["rung"] == "worker"
    assert data["decision"]["outcome"] == "needs_approval"
    assert data["decision"]["approvers"] == ["U02BOB"] and data["decision"]["expires_in_s"] == 900


def test_the_server_scope_is_refused_with_exit_3_and_the_alternative(capsys):
    code, data = plan_json(capsys, "shop-web", "--scope", "server", "--as", "alice")
    assert code == 3
    assert data["decision"]["outcome"] == "refuse" and data["decision"]["alternative"] == "appdomain"


def test_saying_iisreset_is_refused_with_exit_3_and_the_narrow_alternative(capsys):
    code, out, _ = run(capsys, "say", "/recycle iisreset /noforce", "--as", "alice", *FILES)
    assert code == 3
    assert "IISRESET" in out and "--scope appdomain" in out


def test_an_unknown_site_is_bad_input_with_exit_2(capsys):
    code, _, err = run(capsys, "plan", "shop-wbe", *FILES)
    assert code == 2 and "did you mean shop-web" in err


def test_a_broken_policy_file_is_refused_with_exit_2_naming_the_file_and_field(capsys, tmp_path):
    broken = tmp_path / "policy.toml"
    broken.write_text('[[rules]]\nname = "x"\neffect = "alow"\n')
    code, _, err = run(capsys, "plan", "shop-web", "--policy", str(broken), "--inventory",
                       str(EXAMPLES / "inventory.toml"))
    assert code == 2
    assert str(broken) in err and "rules[1].effect" in err
    code, _, err = run(capsys, "policy", "check", str(broken))
    assert code == 2 and "rules[1].effect" in err


def test_policy_check_accepts_the_example_policy(capsys):
    code, out, _ = run(capsys, "policy", "check", str(EXAMPLES / "policy.toml"), "--inventory",
                       str(EXAMPLES / "inventory.toml"))
    assert code == 0 and "valid" in out


def test_the_config_file_supplies_policy_and_inventory_and_options_override_it(capsys, tmp_path, monkeypatch):
    config = tmp_path / "aspreset.toml"
    config.write_text(f'policy = "{EXAMPLES / "policy.toml"}"\ninventory = "{EXAMPLES / "inventory.toml"}"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASPRESET_CONFIG", raising=False)
    code, out, _ = run(capsys, "plan", "intranet", "--as", "alice", "--json")
    assert code == 0 and json.loads(out)["site"] == "intranet"
    empty = tmp_path / "empty.toml"
    empty.write_text("[hosts]\n[sites]\n")
    code, _, err = run(capsys, "plan", "intranet", "--inventory", str(empty))
    assert code == 2 and "unknown site 'intranet'" in err


def test_an_unknown_person_is_bad_input(capsys):
    code, _, err = run(capsys, "plan", "shop-web", "--as", "mallory", *FILES)
    assert code == 2 and "unknown person 'mallory'" in err


@pytest.mark.parametrize("argv", [["plan"], ["plan", "shop-web", "--scope", "everything"]])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
