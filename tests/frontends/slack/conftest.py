"""The Slack front end for real: the ASGI app `aspreset serve` runs, under uvicorn on 127.0.0.1, with
its WebClient pointed at a local fake of Slack's Web API, a simulated IIS farm (bot/sim, real
WinRM) and a real store (SQLite; PostgreSQL for the two-replica tests, through the integration
fixtures and ASPRESET_TEST_PG_URL)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from fake_slack import FakeSlack  # noqa: E402
from slack_http import SIGNING_SECRET, WEBHOOK_SECRET, SlackSender  # noqa: E402

from bot.app.ports import Store  # noqa: E402
from bot.config import Settings, SlackSettings, WinRMSettings  # noqa: E402
from bot.http.loopback import serve_on_loopback  # noqa: E402
from bot.sim.farm import Farm  # noqa: E402
from bot.sim.timing import SimTiming  # noqa: E402
from bot.slack.serving import Serving, build_serving  # noqa: E402
from bot.winrm.executor import WinRMExecutor  # noqa: E402
from policies.files import load_inventory, load_policy  # noqa: E402
from policies.inventory import Inventory  # noqa: E402


def _integration_fixtures() -> object:
    """The PostgreSQL fixtures of tests/integration (one server per session, a database per test)."""
    path = _HERE.parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("aspreset_integration_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _integration_fixtures()
pg_server = _fixtures.pg_server  # type: ignore[attr-defined]
pg_url = _fixtures.pg_url  # type: ignore[attr-defined]

EXAMPLES = _HERE.parents[2] / "examples"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def farm() -> Iterator[Farm]:
    with Farm.from_inventory(load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()) as started:
        yield started


@dataclass
class Bot:
    url: str
    serving: Serving
    slack: SlackSender

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.serving.service


@pytest.fixture
def start_bot(fake_slack: FakeSlack, farm: Farm, tmp_path: Path) -> Iterator[Callable[..., Bot]]:
    """Starts one bot (one replica) per call; all of them stop at the end of the test."""
    stack = ExitStack()

    def start(db_url: str | None = None, owner: str = "replica-a", webhook_secret: str | None = WEBHOOK_SECRET,
              clock: Callable[[], datetime] | None = None, policy: Path | None = None,
              sweep_every_s: float = 15.0, work_threads: int = 8, store: Store | None = None,
              inventory: Inventory | None = None) -> Bot:
        slack = SlackSettings(bot_token=fake_slack.token, signing_secret=SIGNING_SECRET,
                              webhook_secret=webhook_secret, api_base_url=fake_slack.base_url)
        settings = Settings.of(load_policy(policy or EXAMPLES / "policy.toml"), inventory or farm.client_inventory(),
                               workdir=tmp_path,
                               db_url=db_url or f"sqlite:///{tmp_path / 'aspreset.db'}",
                               winrm=WinRMSettings(command_timeout_s=20), owner=owner, slack=slack)
        serving = build_serving(settings, executor=WinRMExecutor(max_parallel=4), clock=clock, store=store,
                                sweep_every_s=sweep_every_s, work_threads=work_threads)
        stack.callback(serving.close)
        url = stack.enter_context(serve_on_loopback(serving.asgi))
        return Bot(url, serving, SlackSender(url, SIGNING_SECRET, fake_slack.response_url(owner)))

    with stack:
        yield start


class HandClock:
    """The service's clock, moved by the test (Slack's own signatures keep real time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> HandClock:
    return HandClock()
