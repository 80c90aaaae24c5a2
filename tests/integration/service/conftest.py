"""The service with its real adapters: the demo team's farm simulated on loopback, the WinRM
executor over pywinrm, and the SQL store (SQLite and PostgreSQL through `store_url`)."""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from fakes import HandClock

from bot.app.service import Service
from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.store import SqlStore
from bot.winrm.executor import WinRMExecutor
from policies.files import load_inventory, load_policy
from policies.inventory import Inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def demo_farm() -> Iterator[Farm]:
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()) as farm:
        yield farm


@pytest.fixture
def farm_inventory(demo_farm: Farm) -> Inventory:
    return demo_farm.client_inventory()


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
        return build(settings, executor=WinRMExecutor(max_parallel=4), store=store, clock=clock)

    yield make
    for store in stores:
        store.close()


def read_until(stream: IO[bytes], wanted: bytes, deadline_s: float = 30.0) -> bytes:
    """Read a child process's output until it holds `wanted`; wait on the pipe (select) with a
    deadline, never by sleeping. Reads the raw descriptor, so no buffered line hides from select.
    Returns everything read."""
    seen = b""
    deadline = time.monotonic() + deadline_s
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while wanted not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} within {deadline_s} s; got: {seen.decode(errors='replace')[-2000:]}"
            if selector.select(timeout=left):
                chunk = os.read(stream.fileno(), 65536)
                tail = seen.decode(errors="replace")[-2000:]
                assert chunk, f"the process closed its output before {wanted!r}: {tail}"
                seen += chunk
    return seen


@pytest.fixture
def wait_for_output() -> Callable[[IO[bytes], bytes], bytes]:
    return read_until
