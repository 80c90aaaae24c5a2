"""An MCP server over the demo team's policy and a simulated farm of its inventory (real WinRM on
127.0.0.1, SQLite in a temporary directory), and the SDK's own client to talk to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app.ports import Notifier
from bot.app.service import Service
from bot.bootstrap import Runtime, build
from bot.config import Settings, WinRMSettings
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from policies.files import load_policy
from policies.inventory import Inventory

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
POLICY = EXAMPLES / "policy.toml"
CONFIG_CHANGE = ["App_Config/connectionStrings.config"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'aspreset.db'}"


@pytest.fixture
def make_service(farm_inventory: Inventory, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Services on the demo policy, the farm and one SQLite file; `notifier` as the test needs."""
    made: list[Runtime] = []

    def make(notifier: Notifier | None = None) -> Service:
        settings = Settings.of(load_policy(POLICY), farm_inventory, workdir=tmp_path, db_url=db_url,
                               winrm=WinRMSettings(command_timeout_s=20), owner="mcp-test")
        made.append(build(settings, notifier=notifier))
        return made[-1].service

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    return make_service()


@pytest.fixture
def server(service: Service):  # type: ignore[no-untyped-def]
    return build_server(ServiceSource.of(service), fixed(assistant("assistant")))
