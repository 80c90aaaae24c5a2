"""The watcher's rounds in the core, with a scripted executor and the in-memory store: an incident
opens only after N bad probes in a row on a host (since the first of them), is updated while it
lasts, closes at the first probe without it, names the request of ours that ran before it
recovered, and a host where our own restart is running is not judged."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import HandClock

from bot.app.errors import ExecutionError
from bot.app.events import RecordingNotifier
from bot.app.records import NewRequest, RequestState
from bot.app.results import OperationParams, OperationResult, ProbeResult, ProbeWorker, WarmupAnswer
from bot.app.service import Service
from bot.app.watch.incidents import Incident
from bot.app.watch.watcher import Watcher
from bot.store.incidents import MemoryIncidents
from bot.store.memory import MemoryStore
from commands.rungs import Rung
from policies.files import load_inventory, load_policy
from policies.inventory import Host
from policies.watch import Watch

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
OLD = ProbeWorker(pid=4000, started_at="2026-12-07T08:00:00Z", private_bytes=100)
NEW = ProbeWorker(pid=4004, started_at="2026-12-07T09:00:00Z", private_bytes=100)


def healthy(worker: ProbeWorker = OLD) -> ProbeResult:
    return ProbeResult(ok=True, pool_state="Started", workers=[worker],
                       warmups=[WarmupAnswer(url="http://127.0.0.1/", status=200, ms=30)])


def hung(worker: ProbeWorker = OLD) -> ProbeResult:
    return ProbeResult(ok=True, pool_state="Started", workers=[worker],
                       warmups=[WarmupAnswer(url="http://127.0.0.1/", failure="Timeout", ms=5000)])


class Scripted:
    """Each host answers its queued probes in order, then healthy ones."""

    def __init__(self) -> None:
        self.next: dict[str, deque[OperationResult | ExecutionError]] = {}

    def queue(self, host: str, *results: OperationResult | ExecutionError) -> None:
        self.next.setdefault(host, deque()).extend(results)

    def run_many(self, calls: list[tuple[str, Host, OperationParams]]) -> list[OperationResult | ExecutionError]:
        assert all(params.op == "probe" for _, _, params in calls)
        return [self.next.get(name, deque()).popleft() if self.next.get(name) else healthy() for name, _, _ in calls]

    def prepare(self, host_name: str, host: Host) -> object:
        return None


class Heard:
    def __init__(self) -> None:
        self.changes: list[tuple[str, Incident]] = []

    def incident(self, incident: Incident, change: str) -> None:
        self.changes.append((change, incident))


@pytest.fixture
def world():
    inventory = load_inventory(EXAMPLES / "inventory.toml")
    shop = inventory.sites["shop-web"].model_copy(update={"watch": Watch(bad_probes=3)})
    inventory = inventory.model_copy(update={"sites": {**inventory.sites, "shop-web": shop}})
    executor, store, clock, heard = Scripted(), MemoryStore(), HandClock(), Heard()
    service = Service(load_policy(EXAMPLES / "policy.toml"), inventory, executor=executor, store=store,
                      notifier=RecordingNotifier(), clock=clock)
    watcher = Watcher(service, MemoryIncidents(), heard)
    return watcher, executor, store, clock, heard


def rounds(watcher: Watcher, clock: HandClock, n: int) -> None:
    for _ in range(n):
        watcher.probe_site("shop-web")
        clock.advance(seconds=60)


def test_an_incident_opens_on_the_third_bad_probe_since_the_first_and_closes_on_its_own(world):
    watcher, executor, _, clock, heard = world
    rounds(watcher, clock, 1)
    first_bad = clock.now
    executor.queue("web02", hung(), hung(), hung(), hung())
    rounds(watcher, clock, 2)
    assert heard.changes == []  # two bad probes: not yet
    rounds(watcher, clock, 2)
    assert [c for c, _ in heard.changes] == ["opened", "updated"]
    opened = heard.changes[0][1]
    assert (opened.host, opened.kind, opened.offer, opened.opened_at) == ("web02", "hung", "worker", first_bad)
    rounds(watcher, clock, 1)
    change, closed = heard.changes[-1]
    assert change == "closed" and closed.id == opened.id and closed.recovered_by is None
    assert watcher.incidents.incidents(open_only=True) == []


def test_a_bad_probe_between_good_ones_starts_the_count_again(world):
    watcher, executor, _, clock, heard = world
    executor.queue("web01", hung(), hung(), healthy(), hung(), hung(), healthy())
    rounds(watcher, clock, 6)
    assert heard.changes == []


def test_recovery_after_a_request_of_ours_names_it_and_its_new_worker_is_no_restart_on_its_own(world):
    watcher, executor, store, clock, heard = world
    rounds(watcher, clock, 1)
    executor.queue("web02", hung(), hung(), hung())
    rounds(watcher, clock, 3)
    request = store.create_request(
        NewRequest(site="shop-web", rung=Rung.WORKER, hosts=("web02",), pool="ShopPool", requester="U01ALICE",
                   origin="test"), [], clock.now)
    assert store.claim_for_run(request.id, clock.now)
    executor.queue("web02", hung())  # probed while our kill runs: not judged
    rounds(watcher, clock, 1)
    assert [c for c, _ in heard.changes] == ["opened"]
    store.finish(request.id, RequestState.SUCCEEDED, {}, clock.now)
    executor.queue("web02", healthy(NEW))
    rounds(watcher, clock, 1)
    change, closed = heard.changes[-1]
    assert change == "closed" and closed.recovered_by == request.id
    executor.queue("web02", healthy(NEW), healthy(NEW), healthy(NEW))
    rounds(watcher, clock, 3)
    assert len(heard.changes) == 2  # no "restarted on its own" for our own new worker


def test_a_worker_replaced_again_and_again_with_no_request_of_ours_is_an_incident(world):
    watcher, executor, _, clock, heard = world
    workers = [ProbeWorker(pid=5000 + 4 * i, started_at=f"2026-12-07T09:0{i}:00Z") for i in range(5)]
    executor.queue("web01", *(healthy(w) for w in workers))
    rounds(watcher, clock, 5)
    assert [(c, i.kind) for c, i in heard.changes][:1] == [("opened", "restarted")]
    assert heard.changes[0][1].offer is None  # a restart would not help


def test_an_unreachable_host_is_its_own_kind_and_the_others_go_on(world):
    watcher, executor, _, clock, heard = world
    executor.queue("web01", *(ExecutionError("web01", "no answer") for _ in range(3)))
    rounds(watcher, clock, 3)
    assert [(c, i.host, i.kind) for c, i in heard.changes] == [("opened", "web01", "unreachable")]
    assert clock.now - heard.changes[0][1].opened_at == timedelta(minutes=3)
