"""The demo team's farm (examples/inventory.toml) simulated on 127.0.0.1 for one test, and the
client inventory that reaches it: shared by the service, MCP and other suites (tests/conftest.py
loads this as a plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from policies.files import load_inventory
from policies.inventory import Inventory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def demo_farm() -> Iterator[Farm]:
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()) as farm:
        yield farm


@pytest.fixture
def farm_inventory(demo_farm: Farm) -> Inventory:
    return demo_farm.client_inventory()
