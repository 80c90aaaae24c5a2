"""A rollout told to stop (the CLI's first Ctrl-C or SIGTERM) starts no further host, not even one
of the current wave still waiting for a free slot; the hosts already started finish and are
reported, the rest are untouched with the command that resumes from the first of them."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from fakes import FakeExecutor

from bot.app.execution import HostSlots, RunReport, run_plan
from bot.app.results import OperationParams
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import parse_inventory, parse_policy
from policies.inventory import Host
from policies.planner import plan

HOSTS = ["st01", "st02", "st03"]
FARM = "".join(f'[hosts.{h}]\naddress = "{h}.example"\n' for h in HOSTS) + (
    '[sites.shop-staging]\nenvironment = "staging"\nhosts = ["st01", "st02", "st03"]\n'
    'iis_site = "Shop"\npool = "ShopPool"\n')


class HeldExecutor(FakeExecutor):
    """The fake executor, holding each operation until the test lets it go."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.began: list[str] = []
        self.entered = threading.Event()
        self.go = threading.Event()

    def run_many(self, calls: Sequence[tuple[str, Host, OperationParams]]) -> list:  # type: ignore[override]
        self.began += [name for name, _, _ in calls]
        self.entered.set()
        assert self.go.wait(10), "the test never let the operation go"
        return super().run_many(calls)


def test_a_stop_during_a_wave_larger_than_the_slots_starts_none_of_the_waiting_hosts() -> None:
    inventory = parse_inventory(FARM, "farm.toml")
    the_plan = plan(RestartRequest(site="shop-staging", scope=Rung.APPPOOL), inventory, parse_policy("", "p.toml"))
    assert the_plan.waves == (tuple(HOSTS),)  # one wave of three
    executor = HeldExecutor.for_inventory(inventory)
    stop, told = threading.Event(), []
    slots = HostSlots(1)  # one host at a time: st02 and st03 wait for the slot
    reports: list[RunReport] = []
    rollout = threading.Thread(target=lambda: reports.append(run_plan(
        the_plan, inventory, executor, "r-1", 10, slots=slots, stop=stop,
        progress=lambda kind, host, _: told.append((kind, host)))))
    try:
        rollout.start()
        assert executor.entered.wait(10)
        stop.set()  # while st01 restarts
        executor.go.set()
        rollout.join(10)
    finally:
        slots.close()

    [report] = reports
    assert executor.began == ["st01"]
    assert told == [("started", "st01"), ("finished", "st01")]
    assert report.outcome == "interrupted" and [h.host for h in report.hosts] == ["st01"]
    assert report.untouched == ["st02", "st03"]
    assert report.resume == "recycle shop-staging --scope apppool --from st02"
