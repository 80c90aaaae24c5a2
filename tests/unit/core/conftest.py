from __future__ import annotations

from pathlib import Path

import pytest

from policies.files import load_inventory, load_policy
from policies.inventory import Inventory
from policies.policy import Policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="session")
def example_policy() -> Policy:
    return load_policy(EXAMPLES / "policy.toml")


@pytest.fixture(scope="session")
def example_inventory() -> Inventory:
    return load_inventory(EXAMPLES / "inventory.toml")
