"""A rolling restart opens the next wave's connections while the current wave works (an executor that
can, bot.app.ports.ConnectsAhead): the first wave pays its own handshakes, later waves find their
sessions open. (That it waits until every host of the current wave has been taken up by a thread is
a matter of speed, measured in bench/rollout.py, not of what happens.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fakes import FakeExecutor, FakeHost, HandClock, RecordingNotifier

from bot.app.results import OperationParams
from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.store.memory import MemoryStore
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import load_inventory, load_policy
from policies.identity import Principal
from policies.inventory import Host

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class ConnectingExecutor(FakeExecutor):
    """The fake executor, telling in order when each host's operation began and which hosts it was
    asked to connect ahead."""

    def __init__(self, hosts: Sequence[FakeHost]) -> None:
        super().__init__(hosts)
        self.log: list[tuple[str, str]] = []
        self.changed = threading.Condition()

    def _note(self, what: str, name: str) -> None:
        with self.changed:
            self.log.append((what, name))
            self.changed.notify_all()

    def run_many(self, calls: Sequence[tuple[str, Host, OperationParams]]) -> list:  # type: ignore[override]
        for name, _, params in calls:
            if params.op != "status":  # the plan's read-only look before acting is not part of the rollout
                self._note("began", name)
        return super().run_many(calls)

    def connect(self, host_name: str, host: Host) -> None:
        self._note("connected", host_name)

    def wait_for(self, entry: tuple[str, str], deadline_s: float = 5.0) -> None:
        end = time.monotonic() + deadline_s
        with self.changed:
            while entry not in self.log:
                assert self.changed.wait(max(0.0, end - time.monotonic())), f"{entry} never came: {self.log}"


def test_the_next_prod_host_is_connected_ahead_while_the_first_one_restarts(tmp_path: Path) -> None:
    settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), load_inventory(EXAMPLES / "inventory.toml"),
                           workdir=tmp_path, winrm=WinRMSettings(command_timeout_s=10), owner="test-bot")
    executor = ConnectingExecutor.for_inventory(settings.inventory())
    service = build(settings, executor=executor, store=MemoryStore(), notifier=RecordingNotifier(),
                    clock=HandClock()).service

    reply = service.request(RestartRequest(site="shop-web", scope=Rung.APPPOOL), Principal(id="U01ALICE"), "cli")

    assert reply.state == "succeeded" and len(reply.plan.waves) == 2  # prod: web01, then web02
    executor.wait_for(("connected", "web02"))
    log = executor.log
    assert ("connected", "web01") not in log, "the first wave connects in its own operation"
    assert log.count(("connected", "web02")) == 1
    assert [e for e in log if e[0] == "began"] == [("began", "web01"), ("began", "web02")]
