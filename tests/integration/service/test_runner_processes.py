"""Restarts in runner processes (bot/runner, the core's RunsApart port), as `aspreset serve` and
`aspreset mcp` run them: real `aspreset serve --run-one` processes against the simulated farm and a
SQLite file. The run goes to the runner that was already waiting for it, and its events come back to
the front end's Notifier; while it runs, its liveness record names the runner; a runner killed hard
mid-run is recorded interrupted at once by the front end that followed it; a runner that cannot
start leaves the request failed with nothing run, never approved and holding its locks."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app.events import RecordingNotifier
from bot.app.records import RequestState
from bot.app.service import Service
from bot.app.views import RequestView
from bot.bootstrap import Runtime, build
from bot.config import Settings, WinRMSettings
from bot.metrics.registry import PrometheusMetrics
from bot.runner.processes import ProcessRuns
from bot.sim.cli import inventory_toml
from bot.sim.wsman import WsmanFaultSpec
from bot.store.liveness import SqlLiveness
from bot.winrm.fault_codes import MAX_OPERATIONS
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import load_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
POLICY = EXAMPLES / "policy.toml"
BOB = "U02BOB"  # the demo policy lets him recycle shop-web's pool without approval


@pytest.fixture
def runner_argv(tmp_path: Path, farm_inventory, monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:  # type: ignore[no-untyped-def]
    farm_file = tmp_path / "farm.toml"
    farm_file.write_text(inventory_toml(farm_inventory), encoding="utf-8")
    monkeypatch.setenv("ASPRESET_CONFIG", "")  # the runners read these files only

    def argv(policy: Path = POLICY) -> list[str]:
        return [sys.executable, "-m", "bot.cli", "serve", "--run-one", "--policy", str(policy),
                "--inventory", str(farm_file), "--db", f"sqlite:///{tmp_path / 'aspreset.db'}"]

    return argv


@pytest.fixture
def front_end(tmp_path: Path, farm_inventory) -> Iterator[Callable[[ProcessRuns], tuple[Service, RecordingNotifier]]]:  # type: ignore[no-untyped-def]
    made: list[Runtime] = []
    runs_made: list[ProcessRuns] = []

    def make(runs: ProcessRuns) -> tuple[Service, RecordingNotifier]:
        heard = RecordingNotifier()
        settings = Settings.of(load_policy(POLICY), farm_inventory, workdir=tmp_path,
                               db_url=f"sqlite:///{tmp_path / 'aspreset.db'}",
                               winrm=WinRMSettings(command_timeout_s=20), owner="front-end")
        made.append(build(settings, notifier=heard, runs=runs))
        runs_made.append(runs)
        return made[-1].service, heard

    yield make
    for runtime in made:
        runtime.close()
    for runs in runs_made:
        runs.close()


def _recycle(service: Service) -> RequestView:
    return service.request(RestartRequest(site="shop-web", scope=Rung.APPPOOL), service.principal(BOB), "test")


def test_a_restart_runs_in_the_runner_that_was_waiting_and_its_events_come_back(runner_argv, front_end) -> None:  # type: ignore[no-untyped-def]
    runs = ProcessRuns(runner_argv())
    service, heard = front_end(runs)
    waiting = runs.warm_pid

    view = _recycle(service)

    assert view.state == "succeeded", view.message
    assert [h.outcome for h in view.hosts] == ["succeeded", "succeeded"]
    assert service.store.get(view.id).owner == f"{socket.gethostname()}/{waiting}", "the warm runner ran it"
    assert heard.kinds(view.id) == ["created", "started", "host_started", "host_finished", "host_started",
                                     "host_finished", "finished"]
    assert runs.warm_pid not in (None, waiting), "another runner waits for the next restart"


def test_a_runner_killed_mid_run_is_recorded_interrupted_at_once_by_its_front_end(
    runner_argv, front_end, demo_farm  # type: ignore[no-untyped-def]
) -> None:
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_latency(0.5)
    service, heard = front_end(ProcessRuns(runner_argv(), keep_warm=False))
    answered: list[RequestView] = []
    asking = threading.Thread(target=lambda: answered.append(_recycle(service)))
    asking.start()
    running = _wait_for(lambda: service.store.list(state=RequestState.RUNNING, limit=1))[0]
    owner = running.owner or ""
    assert _wait_for(lambda: SqlLiveness(service.store).lapsed(running.started_at.replace(year=2100)))[running.id][0] \
        == owner, "the runner renews the run's liveness record"

    os.kill(int(owner.rpartition("/")[2]), signal.SIGKILL)
    asking.join(timeout=60)

    assert answered and answered[0].state == "interrupted"
    assert service.store.get(running.id).state is RequestState.INTERRUPTED
    assert heard.kinds(running.id)[-1] == "finished"
    assert heard.events[-1].state == "interrupted"
    for host in ("web01", "web02"):
        demo_farm.host(host).inject_latency(0.0)


def test_a_runner_that_cannot_read_its_files_leaves_the_request_failed_and_nothing_run(
    runner_argv, front_end, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    service, _ = front_end(ProcessRuns(runner_argv(policy=tmp_path / "gone.toml"), keep_warm=False))

    view = _recycle(service)

    assert view.state == "failed"
    recorded = service.store.get(view.id)
    assert "nothing ran on any host" in (recorded.result or {})["error"]
    assert service.store.list(state=RequestState.APPROVED) == [], "nothing left approved, holding its locks"


def _wait_for(condition, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """`condition()`'s first truthy value, looked at every 50 ms until `timeout`."""
    done = threading.Event()
    deadline = timeout
    while deadline > 0:
        value = condition()
        if value:
            return value
        done.wait(0.05)  # the poll interval of a wait with a deadline
        deadline -= 0.05
    raise AssertionError(f"not within {timeout} s")


def test_a_runners_winrm_fault_and_the_restarts_end_are_counted_in_the_front_end(runner_argv, tmp_path,
                                                                                 farm_inventory, demo_farm) -> None:  # type: ignore[no-untyped-def]
    """What a scraper reaches is the front end: the runner sends its WinRM failures as lines, and the
    request's end comes back as an event; both land in the front end's PrometheusMetrics."""
    demo_farm.host("web01").inject_fault(WsmanFaultSpec(MAX_OPERATIONS, "w:QuotaLimit", "Too many operations."),
                                         actions=["Command"])
    metrics = PrometheusMetrics()
    runs = ProcessRuns(runner_argv(), keep_warm=False, metrics=metrics)
    settings = Settings.of(load_policy(POLICY), farm_inventory, workdir=tmp_path,
                           db_url=f"sqlite:///{tmp_path / 'aspreset.db'}", owner="front-end")
    with build(settings, runs=runs, metrics=metrics) as runtime:
        view = _recycle(runtime.service)
    runs.close()

    assert view.state in ("failed", "partially_failed") and view.hosts[0].error_code == "protocol_error"
    # a restart is never repeated: one failed call
    assert metrics.registry.get_sample_value("aspreset_winrm_errors_total", {
        "op": "apppool", "code": "protocol_error", "fault": f"0x{MAX_OPERATIONS:08X}"}) == 1
    assert metrics.registry.get_sample_value("aspreset_restarts_total", {
        "site": "shop-web", "rung": "apppool", "outcome": view.state}) == 1
