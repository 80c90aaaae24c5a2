"""Every front end of one config file finds the same database, wherever it is started from, and
says where it is; a front end pointed elsewhere is warned once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def farm_config(tmp_path: Path, farm_inventory) -> Path:
    team = tmp_path / "team"
    team.mkdir()
    (team / "farm.toml").write_text(inventory_toml(farm_inventory))
    config = team / "aspreset.toml"
    config.write_text(f'policy = "{EXAMPLES / "policy.toml"}"\ninventory = "farm.toml"\n')
    return config


def test_a_request_made_from_one_directory_is_seen_from_another(capsys, tmp_path, monkeypatch, farm_inventory):
    config = farm_config(tmp_path, farm_inventory)
    monkeypatch.setenv("ASPRESET_CONFIG", str(config))
    (tmp_path / "clone").mkdir()
    (tmp_path / "elsewhere").mkdir()

    monkeypatch.chdir(tmp_path / "clone")
    code, out, _ = run(capsys, "recycle", "shop-web", "--reason", "hung", "--as", "alice", "--json")
    assert code == 4
    request_id = json.loads(out)["id"]

    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out, _ = run(capsys, "requests", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [request_id]
    assert (config.parent / ".aspreset" / "aspreset.db").is_file()
    assert not (tmp_path / "clone" / ".aspreset").exists() and not (tmp_path / "elsewhere" / ".aspreset").exists()


def test_version_says_which_config_and_database_are_used(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_version(capsys)
    state = Path(os.environ["XDG_STATE_HOME"])
    assert code == 0 and out.startswith("aspreset ")
    assert "config: none found" in out
    assert f"database: sqlite:///{state.resolve() / 'aspreset' / 'aspreset.db'} (the default per-user state" in out

    (tmp_path / "aspreset.toml").write_text("")
    code, out, _ = run_version(capsys)
    assert f"database: sqlite:///{tmp_path.resolve() / '.aspreset' / 'aspreset.db'} (the default beside" in out


def run_version(capsys) -> tuple[int, str, str]:
    try:
        main(["--version"])
    except SystemExit as done:
        out, err = capsys.readouterr()
        return int(done.code or 0), out, err
    raise AssertionError("--version did not exit")


def test_a_second_database_for_the_same_config_is_warned_about_once(capsys, tmp_path, monkeypatch, farm_inventory):
    config = farm_config(tmp_path, farm_inventory)
    monkeypatch.setenv("ASPRESET_CONFIG", str(config))
    assert run(capsys, "requests")[2] == ""  # the default database: nothing to say
    other = f"sqlite:///{tmp_path / 'other.db'}"

    code, _, err = run(capsys, "requests", "--db", other)
    warnings = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert code == 0 and [w["event"] for w in warnings] == ["database_split"]
    assert str(config.parent / ".aspreset" / "aspreset.db") in warnings[0]["detail"]
    assert "split between them" in warnings[0]["detail"]

    assert run(capsys, "requests", "--db", other)[2] == ""  # said once
