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


def test_an_earlier_versions_database_under_the_working_directory_is_named_with_how_to_keep_it(
    capsys, tmp_path, monkeypatch, farm_inventory
):
    project = tmp_path / "project"
    project.mkdir()
    (project / "farm.toml").write_text(inventory_toml(farm_inventory))
    monkeypatch.chdir(project)
    files = ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", "farm.toml"]
    former = (project / ".aspreset" / "aspreset.db").resolve()  # where an earlier aspreset kept it by default
    code, out, _ = run(capsys, "recycle", "shop-web", "--reason", "hung", "--as", "alice", "--json", *files,
                       "--db", f"sqlite:///{former}")
    assert code == 4
    request_id = json.loads(out)["id"]
    new = (Path(os.environ["XDG_STATE_HOME"]) / "aspreset" / "aspreset.db").resolve()

    code, out, err = run(capsys, "requests", "--json", *files)
    assert code == 0 and json.loads(out) == []  # the new default database: the request is not there
    [warning] = [json.loads(line) for line in err.splitlines() if '"database_moved"' in line]
    detail = warning["detail"]
    assert f"found the database of an earlier aspreset at {former}" in detail and f"this version uses {new}" in detail
    assert f"ASPRESET_DB=sqlite:///{former}" in detail and "delete or rename it" in detail
    assert run(capsys, "requests", "--json", *files)[2].count("database_moved") == 1, "said on every run"

    code, out, _ = run_version(capsys)
    assert f"note: found the database of an earlier aspreset at {former}" in out

    monkeypatch.setenv("ASPRESET_DB", f"sqlite:///{former}")  # what the warning says keeps the old one in use
    code, out, err = run(capsys, "requests", "--json", *files)
    assert [r["id"] for r in json.loads(out)] == [request_id] and "database_moved" not in err


def test_the_move_it_suggests_is_offered_only_while_the_new_database_does_not_exist(
    capsys, tmp_path, monkeypatch, farm_inventory
):
    config = farm_config(tmp_path, farm_inventory)
    monkeypatch.setenv("ASPRESET_CONFIG", str(config))
    (tmp_path / "clone" / ".aspreset").mkdir(parents=True)
    former = tmp_path / "clone" / ".aspreset" / "aspreset.db"
    former.write_bytes(b"")  # any file there: it is named, never opened or changed
    monkeypatch.chdir(tmp_path / "clone")
    new = config.parent / ".aspreset" / "aspreset.db"

    _, _, err = run(capsys, "requests")
    assert f"mv {former.resolve()} {new.resolve()}" in err
    assert f'db = \\"sqlite:///{former.resolve()}\\" in {config}' in err
    assert new.is_file()  # this run made it
    _, _, err = run(capsys, "requests")
    assert "database_moved" in err and "mv " not in err  # moving would now overwrite it
    assert former.read_bytes() == b""
