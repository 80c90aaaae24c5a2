"""A run cut off hard, host by host: a three-host prod site restarted one host at a time in a real
runner process (`aspreset serve --run-one`) against the simulated farm, on SQLite and on PostgreSQL.
web01 finishes, web02 hangs in its recycle, and the runner is SIGKILLed. The interrupted request,
read back from the store alone, says web01 finished with its worker PIDs before and after, web02's
state is unknown (it was restarting), web03 never started; the follow-up it offers names web02 and
web03 only (an assistant reads the same in words, without the command), and running it restarts
them without touching web01 again."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.records import RequestState
from bot.app.service import Service
from bot.app.views import RequestView
from bot.bootstrap import Runtime, build
from bot.cli.render import request_text
from bot.config import Settings, WinRMSettings
from bot.mcp import text as mcp_text
from bot.mcp.guidance import for_assistant
from bot.runner.processes import ProcessRuns
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from commands.model import RestartRequest
from commands.parser import parse
from commands.rungs import Rung
from policies.files import load_policy
from policies.inventory import Host, Inventory, Site

POLICY = Path(__file__).resolve().parents[3] / "examples" / "policy.toml"
HOSTS = ["web01", "web02", "web03"]
BOB = "U02BOB"  # the demo policy lets him recycle shop-web's pool without approval


@pytest.fixture
def farm() -> Iterator[Farm]:
    hosts = {name: Host(address=f"{name}.example", transport="basic", lab=True) for name in HOSTS}
    inventory = Inventory(hosts=hosts, sites={
        "shop-web": Site(environment="prod", hosts=HOSTS, iis_site="Shop", pool="ShopPool")})
    with Farm.from_inventory(inventory, timing=SimTiming.fast()) as running:
        yield running


@pytest.fixture
def front_end(farm: Farm, store_url: str, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Service, ProcessRuns]]:
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm.client_inventory()), encoding="utf-8")
    monkeypatch.setenv("ASPRESET_CONFIG", "")  # the runner reads these files only
    runs = ProcessRuns([sys.executable, "-m", "bot.cli", "serve", "--run-one", "--policy", str(POLICY),
                        "--inventory", str(farm_file), "--db", store_url], keep_warm=False)
    settings = Settings.of(load_policy(POLICY), farm.client_inventory(), workdir=tmp_path, db_url=store_url,
                           winrm=WinRMSettings(command_timeout_s=30), owner="front-end")
    runtime: Runtime = build(settings, runs=runs)
    try:
        yield runtime.service, runs
    finally:
        runtime.close()
        runs.close()


def recycles(farm: Farm, host: str) -> int:
    """The pool recycles a host received (the plan reads every host first with a status)."""
    return sum(b"operation: apppool" in bytes(c.stdin) for c in farm.host(host).received)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    """`condition()`'s first truthy value, looked at every 50 ms until `timeout`."""
    ticks = threading.Event()
    for _ in range(int(timeout / 0.05)):
        value = condition()
        if value:
            return value
        ticks.wait(0.05)  # the poll interval of a wait with a deadline
    raise AssertionError(f"not within {timeout} s")


def test_a_run_killed_hard_shows_each_hosts_known_state_and_offers_only_the_hosts_not_done(farm, front_end):
    service, _ = front_end
    farm.host("web02").inject_hang(["apppool"])  # web02's recycle never ends: it is in flight at the kill
    answered: list[RequestView] = []
    asking = threading.Thread(target=lambda: answered.append(service.request(
        RestartRequest(site="shop-web", scope=Rung.APPPOOL), service.principal(BOB), "test")))
    asking.start()

    def web01_recorded_and_web02_begun() -> Any:
        running = service.store.list(state=RequestState.RUNNING, limit=1)
        result = (running[0].result or {}) if running else {}
        done = [h["host"] for h in result.get("hosts", ())]
        return running[0] if done == ["web01"] and "web02" in result.get("dispatched", ()) else None

    run = wait_for(web01_recorded_and_web02_begun)
    wait_for(lambda: recycles(farm, "web02"))  # its recycle reached the host
    os.kill(int((run.owner or "").rpartition("/")[2]), signal.SIGKILL)
    asking.join(timeout=60)

    assert answered and answered[0].state == "interrupted"
    view = service.get_request(run.id)  # read back from the store, as any replica would
    assert view.state == "interrupted"
    by_host = {h.host: h for h in view.hosts}
    assert [h.host for h in view.hosts] == HOSTS
    web01 = by_host["web01"]
    assert web01.outcome == "succeeded" and web01.pids_before and web01.pids_after
    assert set(web01.pids_before).isdisjoint(web01.pids_after), "the recycle's new worker is shown"
    assert by_host["web02"].outcome == "unknown" and by_host["web03"].outcome == "skipped"
    assert view.in_flight == ["web02"] and view.untouched == ["web03"]
    assert view.retry == "recycle shop-web --scope apppool --host web02 web03"
    assert view.resume is None, "resuming `--from` a host would skip web02, whose state nobody knows"
    assert view.next_step and "web02 was restarting" in view.next_step and "1 never started" in view.next_step
    shown = request_text(view)
    assert "web02: STATE UNKNOWN" in shown
    assert "finish the hosts not known to be done with: aspreset recycle shop-web --scope apppool --host web02 " \
           "web03" in shown
    for_model = for_assistant(view, "a person must approve it at the bot's terminal")  # MCP's get_request
    assert for_model.retry is None and for_model.next_step is not None
    assert "finished: web01" in for_model.next_step and "state unknown: web02" in for_model.next_step
    assert "finish it on web02, web03 only" in for_model.next_step
    assert "  web02: state unknown (" in mcp_text.request(for_model)
    audit = service.store.audit(request_id=run.id)
    assert audit[-1].action.value == "interrupted"
    assert [h["host"] for h in audit[-1].details["known"]["hosts"]] == ["web01"], "the trail keeps it too"

    # the offered follow-up: a new request for web02 and web03 only; web01 is not recycled again
    farm.host("web02").clear_faults()
    follow_up = parse(view.retry)
    assert isinstance(follow_up, RestartRequest)
    finished = service.request(follow_up, service.principal(BOB), "test")
    assert finished.state == "succeeded", finished.message
    assert [h.host for h in finished.hosts] == ["web02", "web03"]
    assert (recycles(farm, "web01"), recycles(farm, "web03")) == (1, 1)
