"""A CLI command deletes the WinRM shells it kept on the hosts before it exits: Windows allows a user
30 shells per host (`MaxShellsPerUser`) and drops an idle one only after two hours, so thirty runs
that each left one would make every host refuse the next."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from policies.files import load_inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def demo_farm() -> Iterator[Farm]:
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()) as farm:
        yield farm


@pytest.fixture
def config(demo_farm, tmp_path) -> Path:
    (tmp_path / "farm.toml").write_text(inventory_toml(demo_farm.client_inventory()))
    path = tmp_path / "aspreset.toml"
    path.write_text(f'policy = "{EXAMPLES / "policy.toml"}"\ninventory = "farm.toml"\n'
                    f'db = "sqlite:///{tmp_path / "a.db"}"\n')
    return path


@pytest.mark.parametrize("argv", [
    ["status", "shop-web"],
    ["recycle", "shop-web", "--scope", "apppool", "--as", "alice"],
    ["inventory", "discover", "web01"],
], ids=["status", "recycle", "discover"])
def test_a_command_that_ends_has_deleted_every_shell_it_opened(demo_farm, config, capsys, argv):
    hosts = [demo_farm.host("web01"), demo_farm.host("web02")]
    for _ in range(3):  # runs one after another, as a person or a cron job would
        assert main([*argv, "--config", str(config), "--json"]) == 0, capsys.readouterr()
        assert [h.open_shells for h in hosts] == [0, 0]
    assert "Create" in hosts[0].actions and hosts[0].actions[-1] == "Delete"
