"""What an operator sees when the configuration would quietly weaken prod: a site whose environment
the policy does not define, missing credentials, and mistakes in the files, each said as a
sentence with the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
POLICY = str(EXAMPLES / "policy.toml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def discovered_inventory(tmp_path: Path) -> Path:
    """What `inventory discover` writes, with the environment left as it came."""
    text = (EXAMPLES / "inventory.toml").read_text().replace('[sites.shop-web]\nenvironment = "prod"',
                                                           '[sites.shop-web]\nenvironment = "unknown"')
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return path


def test_a_site_whose_environment_the_policy_does_not_define_cannot_be_planned(capsys, tmp_path):
    inventory = discovered_inventory(tmp_path)
    code, out, err = run(capsys, "plan", "shop-web", "--as", "alice", "--policy", POLICY, "--inventory", str(inventory))
    assert code == 2 and out == ""
    assert "sites.shop-web: environment = 'unknown' is not an environment of the policy" in err
    assert "which defines: prod, staging" in err and str(inventory) in err


def test_policy_check_calls_an_unknown_site_environment_invalid_and_an_unused_one_a_warning(capsys, tmp_path):
    code, _, err = run(capsys, "policy", "check", POLICY, "--inventory", str(discovered_inventory(tmp_path)))
    assert code == 2 and "INVALID" in err and "sites.shop-web: environment = 'unknown'" in err

    only_prod = tmp_path / "prod-only.toml"
    text = (EXAMPLES / "inventory.toml").read_text().replace('environment = "staging"', 'environment = "prod"')
    only_prod.write_text(text)
    code, out, err = run(capsys, "policy", "check", POLICY, "--inventory", str(only_prod))
    assert code == 0, err
    assert "warning: " in out and "environments.staging: no site in" in out and out.rstrip().endswith("valid")


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "aspreset.toml"
    config.write_text(f'policy = "{POLICY}"\ninventory = "{EXAMPLES / "inventory.toml"}"\n{extra}')
    return config


def test_config_check_names_every_host_whose_credentials_are_missing_and_where_the_database_is(
    capsys, tmp_path, monkeypatch
):
    config = write_config(tmp_path)
    monkeypatch.delenv("ASPRESET_WINRM_USER", raising=False)
    monkeypatch.delenv("ASPRESET_WINRM_PASSWORD", raising=False)
    code, out, err = run(capsys, "config", "check", "--config", str(config))
    assert code == 2
    for host in ("web01", "web02", "web04"):
        assert f"hosts.{host}.username_env names ASPRESET_WINRM_USER, which is not set" in err
    assert f"database: sqlite:///{tmp_path / '.aspreset' / 'aspreset.db'} (the default beside {config})" in out

    monkeypatch.setenv("ASPRESET_WINRM_USER", "svc-aspreset")
    monkeypatch.setenv("ASPRESET_WINRM_PASSWORD", "not-shown")
    code, out, err = run(capsys, "config", "check", "--config", str(config), "--json")
    data = json.loads(out)
    assert code == 0 and data["valid"] and data["problems"] == []
    assert set(data["checked"]) == {"config", "policy", "inventory", "credentials", "database"}
    assert "not-shown" not in out + err


def test_policy_check_takes_the_policy_and_inventory_from_a_config_file(capsys, tmp_path):
    code, out, _ = run(capsys, "policy", "check", "--config", str(write_config(tmp_path)))
    assert code == 0
    assert f"policy: {POLICY}" in out and f"inventory: {EXAMPLES / 'inventory.toml'}" in out


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ("[winrm]\nmax_paralel = 4\n", "line 4: winrm.max_paralel: unknown key; did you mean 'max_parallel'?"),
        ("[winrm]\nmax_parallel = 0\n", "line 4: winrm.max_parallel: must be at least 1, got 0"),
        ("[winrm]\nmax_parallel = many\n", "line 4, column 16: not valid TOML: a value must be \"quoted text\""),
    ],
)
def test_a_config_mistake_is_a_sentence_with_the_file_and_line(capsys, tmp_path, extra, said):
    config = write_config(tmp_path, extra)
    code, _, err = run(capsys, "config", "check", "--config", str(config))
    assert code == 2 and said in err and str(config) in err
    assert "Input should" not in err and "Extra inputs" not in err and "(at line" not in err


def test_recycle_without_the_winrm_user_stops_before_recording_a_request(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ASPRESET_WINRM_USER", raising=False)
    monkeypatch.setenv("ASPRESET_WINRM_PASSWORD", "not-shown")
    files = ["--policy", POLICY, "--inventory", str(EXAMPLES / "inventory.toml"),
             "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    code, out, err = run(capsys, "recycle", "shop-web", "--scope", "apppool", "--as", "alice", "--yes", *files)
    assert code == 2 and out == ""
    assert "hosts.web01.username_env names ASPRESET_WINRM_USER, which is not set in the environment" in err
    assert "not-shown" not in err
    code, out, _ = run(capsys, "requests", *files, "--json")
    assert code == 0 and json.loads(out) == []
