"""Rolling restarts through the service against a simulated farm: waves, the first failure stopping
the rollout with the untouched hosts and a resume command that works, keep-going, drain hooks that
run before and after each host, and the per-host progress events."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.app.events import RecordingNotifier
from bot.app.service import Service
from bot.bootstrap import build
from bot.cli import main
from bot.config import Settings, WinRMSettings
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.store import SqlStore
from bot.winrm.executor import WinRMExecutor
from commands.model import RestartRequest
from commands.parser import parse
from commands.rungs import Rung
from policies.files import parse_policy
from policies.identity import Principal
from policies.inventory import Drain, DrainHook, Host, Inventory, Site

EXAMPLES_POLICY = Path(__file__).resolve().parents[3] / "examples" / "policy.toml"
HOSTS = [f"web{i:02d}" for i in range(1, 6)]
ALICE = Principal(id="U01ALICE")


def policy_text(staging: str = "") -> str:
    text = EXAMPLES_POLICY.read_text()
    return text.replace('[environments.staging]\nwidest_rung = "worker"\n',
                        f'[environments.staging]\nwidest_rung = "worker"\n{staging}\n')


def farm_inventory(drain: Drain | None = None) -> Inventory:
    hosts = {name: Host(address=f"{name}.example", transport="basic", lab=True) for name in HOSTS}
    return Inventory(
        hosts=hosts,
        sites={
            "shop-web": Site(environment="prod", hosts=HOSTS, iis_site="Shop", pool="ShopPool", drain=drain),
            "farm-web": Site(environment="staging", hosts=HOSTS, iis_site="Farm", pool="FarmPool", drain=drain),
        },
    )


@pytest.fixture
def farm() -> Iterator[Farm]:
    with Farm.from_inventory(farm_inventory(), timing=SimTiming.fast()) as running:
        yield running


@pytest.fixture
def make(farm: Farm, tmp_path: Path) -> Iterator[Callable[..., tuple[Service, RecordingNotifier]]]:
    stores: list[SqlStore] = []

    def make_service(
        staging: str = "max_parallel = 2", drain: Drain | None = None
    ) -> tuple[Service, RecordingNotifier]:
        client = farm.client_inventory()
        sites = {name: site.model_copy(update={"drain": drain}) for name, site in client.sites.items()}
        inventory = Inventory(hosts=client.hosts, sites=sites)
        store = SqlStore(f"sqlite:///{tmp_path / 'aspreset.db'}")
        stores.append(store)
        notifier = RecordingNotifier()
        settings = Settings.of(parse_policy(policy_text(staging), "policy.toml"), inventory, workdir=tmp_path,
                               winrm=WinRMSettings(command_timeout_s=10, max_parallel=4))
        service = build(settings, executor=WinRMExecutor(max_parallel=4), store=store, notifier=notifier).service
        return service, notifier

    yield make_service
    for store in stores:
        store.close()


def host_events(notifier: RecordingNotifier) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.host) for e in notifier.events if e.kind.value.startswith("host_")]


def appdomain_commands(farm: Farm, host: str) -> int:
    return sum(b"aspreset-operation: appdomain" in bytes(c.stdin) for c in farm.host(host).received)


def test_a_prod_site_restarts_one_host_at_a_time_by_default(make, farm):
    service, notifier = make()
    outcome = service.request(RestartRequest(site="shop-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert outcome.state == "succeeded"
    assert outcome.plan is not None and outcome.plan.waves == [[h] for h in HOSTS]
    # each host finished (warmed up and verified) before the next one started
    assert host_events(notifier) == [(kind, h) for h in HOSTS for kind in ("host_started", "host_finished")]
    assert [h.host for h in outcome.hosts] == HOSTS
    # the Id is the app's path and stays the same: the entry leaving the list and the counter show it
    assert all(h.appdomain_after and "restart_counter_grew" in h.evidence for h in outcome.hosts)  # type: ignore[attr-defined]


def test_a_wave_runs_its_hosts_together_and_the_next_wave_waits_for_all_of_them(make):
    service, notifier = make('max_parallel = "40%"')  # 5 hosts: waves of 2
    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert outcome.state == "succeeded"
    events = host_events(notifier)
    assert events[:2] == [("host_started", "web01"), ("host_started", "web02")]
    assert set(events[2:4]) == {("host_finished", "web01"), ("host_finished", "web02")}
    assert events[4:6] == [("host_started", "web03"), ("host_started", "web04")]
    finished = [e for e in notifier.events if e.kind.value == "host_finished"]
    assert [e.detail["done"] for e in finished] == [1, 2, 3, 4, 5]
    assert {e.detail["total"] for e in finished} == {5} and finished[-1].detail["wave"] == 3


def test_a_failure_on_one_host_stops_the_rollout_lists_the_rest_and_the_resume_command_works(
    make, farm, tmp_path, capsys
):
    service, _ = make("max_parallel = 1")
    farm.host("web03").iis.app("Farm").app_offline = True  # a deploy left app_offline.htm behind on web03

    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert outcome.state == "partially_failed"
    report = outcome
    assert [(h.host, h.outcome) for h in report.hosts] == [("web01", "succeeded"), ("web02", "succeeded"),
                                                          ("web03", "failed"), ("web04", "skipped"),
                                                          ("web05", "skipped")]
    assert report.hosts[2].error_code == "app_offline"
    assert report.untouched == ["web04", "web05"]
    assert report.next_step is not None and report.resume in report.next_step
    assert report.resume == "recycle farm-web --scope appdomain --from web04"
    assert report.retry == "recycle farm-web --scope appdomain --host web03"
    assert appdomain_commands(farm, "web04") == appdomain_commands(farm, "web05") == 0, "untouched means untouched"
    recorded = service.store.get(outcome.id).result
    assert recorded is not None and recorded["untouched"] == ["web04", "web05"] and recorded["stopped_at"] == "web03"
    assert recorded["resume"] == report.resume

    # the command exactly as reported, through the CLI, restarts the untouched hosts and nothing else
    files = tmp_path / "farm.toml", tmp_path / "policy.toml"
    files[0].write_text(inventory_toml(service.inventory))
    files[1].write_text(policy_text("max_parallel = 1"))
    before = {h: appdomain_commands(farm, h) for h in HOSTS}
    assert report.resume is not None
    code = main([*report.resume.split(), "--as", "alice", "--inventory", str(files[0]), "--policy", str(files[1]),
                 "--db", f"sqlite:///{tmp_path / 'aspreset.db'}", "--json"])
    printed = capsys.readouterr().out
    out = json.loads(printed[printed.index("{\n"):])  # the service's log lines may come first in this process
    assert code == 0, out
    assert [(h["host"], h["outcome"]) for h in out["hosts"]] == [("web04", "succeeded"), ("web05", "succeeded")]
    after = {h: appdomain_commands(farm, h) for h in HOSTS}
    assert {h for h in HOSTS if after[h] != before[h]} == {"web04", "web05"}

    code, text = main(["requests", "--inventory", str(files[0]), "--policy", str(files[1]),
                       "--db", f"sqlite:///{tmp_path / 'aspreset.db'}"]), capsys.readouterr().out
    assert "web03 failed" in text and "2 untouched" in text and "--from web04" in text


def test_keep_going_restarts_every_host_and_one_retry_covers_every_failed_host_and_only_those(make, farm):
    service, _ = make("max_parallel = 1\nkeep_going = true")
    for name in ("web02", "web04"):
        farm.host(name).iis.app("Farm").app_offline = True
    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert outcome.state == "partially_failed"
    assert [h.outcome for h in outcome.hosts] == ["succeeded", "failed", "succeeded", "failed", "succeeded"]
    assert outcome.untouched == [] and outcome.resume is None
    assert outcome.retry == "recycle farm-web --scope appdomain --host web02 web04"

    for name in ("web02", "web04"):
        farm.host(name).iis.app("Farm").app_offline = False  # fixed
    before = {h: appdomain_commands(farm, h) for h in HOSTS}
    retried = service.request(parse(outcome.retry), ALICE, "cli")
    assert [(h.host, h.outcome) for h in retried.hosts] == [("web02", "succeeded"), ("web04", "succeeded")]
    assert {h for h in HOSTS if appdomain_commands(farm, h) != before[h]} == {"web02", "web04"}


def hook_command(log: Path, fail_for: str = "", hang_for: str = "") -> list[str]:
    script = (
        "import sys, threading\n"
        "log, phase, host, fail, hang = sys.argv[1:6]\n"
        "open(log, 'a').write(phase + ' ' + host + '\\n')\n"
        "if host == hang: threading.Event().wait()\n"
        "sys.exit(3 if host == fail else 0)\n"
    )
    return [sys.executable, "-c", script, str(log), "{phase}", "{host}", fail_for or "-", hang_for or "-"]


def test_drain_hooks_run_before_and_after_each_host_in_order(make, tmp_path):
    log = tmp_path / "hooks.log"
    hook = DrainHook(command=hook_command(log), timeout_s=20)
    service, _ = make("max_parallel = 1", Drain(before=hook, after=hook))
    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert outcome.state == "succeeded"
    assert log.read_text().split("\n")[:-1] == [f"{phase} {h}" for h in HOSTS for phase in ("before", "after")]


def test_a_failing_before_hook_stops_the_rollout_before_the_host_is_touched(make, farm, tmp_path):
    log = tmp_path / "hooks.log"
    service, _ = make("max_parallel = 1", Drain(before=DrainHook(command=hook_command(log, fail_for="web02"))))
    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    failed = outcome.hosts[1]
    assert failed.host == "web02" and failed.error_code == "drain_failed"
    assert failed.error is not None and "exited with code 3" in failed.error and "not touched" in failed.error
    assert appdomain_commands(farm, "web02") == 0
    assert outcome.untouched == ["web03", "web04", "web05"]


def test_a_hook_that_hangs_is_killed_at_its_timeout_and_stops_the_rollout(make, farm, tmp_path):
    hook = DrainHook(command=hook_command(tmp_path / "hooks.log", hang_for="web01"), timeout_s=0.5)
    service, _ = make("max_parallel = 1", Drain(before=hook))
    outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    assert [h.host for h in outcome.hosts if h.outcome != "skipped"] == ["web01"]
    assert "did not finish within 0.5 s" in (outcome.hosts[0].error or "")
    assert appdomain_commands(farm, "web01") == 0


class _LoadBalancer(BaseHTTPRequestHandler):
    calls: list[str]
    refuse: str

    def do_POST(self) -> None:
        self.calls.append(self.path)
        self.send_response(503 if self.refuse in self.path else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_http_after_hook_that_fails_marks_the_restarted_host_failed_and_stops(make, farm):
    handler = type("LB", (_LoadBalancer,), {"calls": [], "refuse": "after/web02"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        drain = Drain(before=DrainHook(url=base + "/{phase}/{host}?token=s3cret"),
                      after=DrainHook(url=base + "/{phase}/{host}?token=s3cret"))
        service, _ = make("max_parallel = 1", drain)
        outcome = service.request(RestartRequest(site="farm-web", scope=Rung.APPDOMAIN), ALICE, "cli")
    finally:
        server.shutdown()
        server.server_close()
    assert handler.calls == ["/before/web01?token=s3cret", "/after/web01?token=s3cret",
                             "/before/web02?token=s3cret", "/after/web02?token=s3cret"]
    web02 = outcome.hosts[1]
    assert web02.outcome == "failed" and web02.error_code == "drain_failed" and appdomain_commands(farm, "web02") == 1
    assert web02.error is not None and "HTTP 503" in web02.error and "s3cret" not in web02.error
    assert outcome.untouched == ["web03", "web04", "web05"]
