"""The service built the one way every entry point builds it (bootstrap.build), around the core's
fakes (tests/fakes.py): a FakeExecutor per host of the demo team's inventory, the in-memory store, a
recording notifier, a hand-moved clock and a fake warm-up. No sockets, no subprocesses, no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeWorld

from bot.config import Settings, WinRMSettings
from policies.files import load_inventory, load_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), load_inventory(EXAMPLES / "inventory.toml"),
                           workdir=tmp_path, winrm=WinRMSettings(command_timeout_s=10), owner="test-bot")
    return FakeWorld.build(settings)
