"""The service with its real adapters: the demo team's farm simulated on loopback, the WinRM
executor over pywinrm, and the SQL store (SQLite and PostgreSQL through `store_url`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from child_output import read_until
from fakes import HandClock

from bot.app.service import Service
from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.store import SqlStore
from bot.winrm.executor import WinRMExecutor
from policies.files import load_policy
from policies.inventory import Inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def make_service(
    farm_inventory: Inventory, store_url: str, clock: HandClock, tmp_path: Path
) -> Iterator[Callable[..., Service]]:
    stores: list[SqlStore] = []

    def make(owner: str = "test-bot") -> Service:
        store = SqlStore(store_url)
        stores.append(store)
        settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), farm_inventory, workdir=tmp_path,
                               winrm=WinRMSettings(command_timeout_s=10), owner=owner)
        return build(settings, executor=WinRMExecutor(max_parallel=4), store=store, clock=clock).service

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def wait_for_output() -> Callable[[IO[bytes], bytes], object]:
    """Wait for `wanted` (literal bytes) in a child's output, with a deadline (tests/child_output.py)."""
    return lambda stream, wanted: read_until(stream, re.escape(wanted), 30.0)
