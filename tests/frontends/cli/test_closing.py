"""A CLI command leaves nothing open on the hosts: the WinRM shells the bot keeps between one
operation and the next on a host are deleted when the command ends (bootstrap's Runtime closes
the executor on the way out), so a host never collects shells from commands that are gone."""

from __future__ import annotations

from pathlib import Path

from bot.cli import main
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _files(farm: Farm, tmp_path: Path) -> list[str]:
    (tmp_path / "farm.toml").write_text(inventory_toml(farm.client_inventory()))
    return ["--policy", str(EXAMPLES / "policy.toml"), "--inventory", str(tmp_path / "farm.toml")]


def _open_shells(farm: Farm) -> dict[str, int]:
    return {name: host.open_shells for name, host in farm.hosts.items()}


def test_a_recycle_from_the_cli_deletes_the_shells_it_kept_on_every_host(demo_farm: Farm, tmp_path: Path) -> None:
    code = main(["recycle", "shop-web", "--scope", "apppool", "--as", "alice", *_files(demo_farm, tmp_path),
                 "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json"])

    assert code == 0
    for name in ("web01", "web02"):  # the shell was kept across the operation's calls, then deleted
        actions = demo_farm.host(name).actions
        assert actions.count("Create") == actions.count("Delete") >= 1 and actions[-1] == "Delete", (name, actions)
    assert set(_open_shells(demo_farm).values()) == {0}


def test_doctor_deletes_the_shells_it_kept(demo_farm: Farm, tmp_path: Path) -> None:
    code = main(["doctor", "shop-web", *_files(demo_farm, tmp_path), "--json"])

    assert code == 0
    assert demo_farm.host("web01").actions.count("Create") >= 1
    assert set(_open_shells(demo_farm).values()) == {0}
