"""A run's record of its hosts (bot/app/hosts_record.py) names each wave before any of its hosts is
touched, so a host it does not name after a hard kill was never started; and each host's end
reaches the store while the run goes on, not only at its end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fakes import FakeExecutor

from bot.app.execution import run_plan
from bot.app.hosts_record import HostsRecord
from bot.app.records import NewRequest
from bot.app.results import OperationParams
from bot.store.memory import MemoryStore
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import parse_inventory, parse_policy
from policies.inventory import Host
from policies.planner import plan

HOSTS = ["web01", "web02", "web03"]
FARM = "".join(f'[hosts.{h}]\naddress = "{h}.example"\n' for h in HOSTS) + (
    '[sites.shop-web]\nenvironment = "prod"\nhosts = ["web01", "web02", "web03"]\n'
    'iis_site = "Shop"\npool = "ShopPool"\n')
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class RecordReadingExecutor(FakeExecutor):
    """The fake executor, noting what the store's record said as each host was about to be touched."""

    store: MemoryStore
    request_id: str

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.seen: dict[str, dict] = {}  # type: ignore[type-arg]

    def run_many(self, calls: Sequence[tuple[str, Host, OperationParams]]) -> list:  # type: ignore[override]
        for name, _, _ in calls:
            self.seen[name] = dict(self.store.get(self.request_id).result or {})
        return super().run_many(calls)


def test_each_wave_is_recorded_before_its_hosts_are_touched_and_each_end_as_it_comes() -> None:
    inventory = parse_inventory(FARM, "farm.toml")
    the_plan = plan(RestartRequest(site="shop-web", scope=Rung.APPPOOL), inventory, parse_policy("", "p.toml"))
    assert the_plan.host_waves == (("web01",), ("web02",), ("web03",))
    store = MemoryStore()
    request = store.create_request(NewRequest(site="shop-web", rung=Rung.APPPOOL, hosts=tuple(HOSTS), pool="ShopPool",
                                              requester="U01ALICE", origin="test", plan=the_plan.to_dict()), (), T0)
    assert store.claim_for_run(request.id, T0, owner="runner")
    executor = RecordReadingExecutor.for_inventory(inventory)
    executor.store, executor.request_id = store, request.id

    with HostsRecord(store, request.id) as record:
        report = run_plan(the_plan, inventory, executor, request.id, 10, before_wave=record.wave,
                          progress=lambda kind, host, outcome: record.finished(outcome) if outcome else None)

    assert report.outcome == "succeeded"
    assert [executor.seen[h]["dispatched"] for h in HOSTS] == [["web01"], ["web01", "web02"], HOSTS], \
        "each host's wave was in the store before the host was touched, and no later wave"
    assert "web01" in [h["host"] for h in executor.seen["web03"]["hosts"]], \
        "web01's end reached the store while the run went on"
