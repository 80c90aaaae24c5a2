"""What the metrics hear of requests, through bootstrap.build with the core's fakes and a real
PrometheusMetrics (tests/fakes.py): each request that ends is counted once by site, rung and final
state; the approval wait runs from the request to the approval that let it run; a restart's duration
from when it could start to its end, both on the service's clock. Read back with the registry's own
get_sample_value."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fakes import FakeExecutor, HandClock

from bot.app.errors import ExecutionError, HostUnreachable
from bot.app.events import RecordingNotifier
from bot.app.results import OperationParams, OperationResult
from bot.bootstrap import build
from bot.config import Settings, WinRMSettings
from bot.metrics.registry import PrometheusMetrics
from bot.store.memory import MemoryStore
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.files import load_inventory, load_policy
from policies.identity import Principal
from policies.inventory import Host

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ALICE, BOB, CAROL = Principal(id="U01ALICE"), Principal(id="U02BOB"), Principal(id="U03CAROL")
HUNG = RestartRequest(site="shop-web", reason=Reason.HUNG)  # the worker rung: bob must approve
RECYCLE = RestartRequest(site="shop-web", scope=Rung.APPPOOL)


class SlowHosts:
    """The fake executor, with each host operation taking `seconds` on the service's clock."""

    def __init__(self, fake: FakeExecutor, clock: HandClock, seconds: float) -> None:
        self.fake, self.clock, self.seconds = fake, clock, seconds

    def run_many(self, calls: Sequence[tuple[str, Host, OperationParams]]) -> list[OperationResult | ExecutionError]:
        if any(params.op != "status" for _, _, params in calls):
            self.clock.advance(seconds=self.seconds)
        return self.fake.run_many(calls)

    def prepare(self, host_name: str, host: Host) -> object:
        return self.fake.prepare(host_name, host)


def built(tmp_path: Path, seconds_per_op: float = 0.0):  # type: ignore[no-untyped-def]
    settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), load_inventory(EXAMPLES / "inventory.toml"),
                           workdir=tmp_path, winrm=WinRMSettings(command_timeout_s=10), owner="test-bot")
    fake, clock, metrics = FakeExecutor.for_inventory(settings.inventory()), HandClock(), PrometheusMetrics()
    heard = RecordingNotifier()
    runtime = build(settings, executor=SlowHosts(fake, clock, seconds_per_op), store=MemoryStore(),
                    notifier=heard, clock=clock, metrics=metrics)
    return runtime, fake, clock, metrics, heard


def sample(metrics: PrometheusMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_an_approved_kill_counts_its_wait_and_its_duration_and_the_notifier_still_hears_all(tmp_path):
    runtime, _, clock, metrics, heard = built(tmp_path, seconds_per_op=20.0)
    service = runtime.service
    asked = service.request(HUNG, ALICE, "slack")
    clock.advance(seconds=150)

    done = service.approve(asked.id, BOB)

    assert done.state == "succeeded"
    assert sample(metrics, "aspreset_restarts_total", site="shop-web", rung="worker", outcome="succeeded") == 1
    assert sample(metrics, "aspreset_approval_wait_seconds_count", rung="worker") == 1
    assert sample(metrics, "aspreset_approval_wait_seconds_sum", rung="worker") == 150
    # two hosts one after another (the shop's waves), 20 s each on the service's clock
    assert sample(metrics, "aspreset_restart_duration_seconds_sum", rung="worker") == 40
    assert sample(metrics, "aspreset_restart_duration_seconds_bucket", rung="worker", le="30.0") == 0
    assert sample(metrics, "aspreset_restart_duration_seconds_bucket", rung="worker", le="60.0") == 1
    assert heard.kinds(asked.id)[-1] == "finished"  # measuring sits in front of the Notifier, not instead
    runtime.close()


def test_requests_that_never_ran_are_counted_by_how_they_ended(tmp_path):
    runtime, _, _, metrics, _ = built(tmp_path)
    service = runtime.service
    denied = service.request(HUNG, ALICE, "slack")
    service.deny(denied.id, BOB, "not now")
    cancelled = service.request(HUNG, ALICE, "slack")
    service.cancel(cancelled.id, ALICE)
    refused = service.request(RECYCLE, CAROL, "slack")

    assert refused.state == "refused"
    for outcome, rung in (("denied", "worker"), ("cancelled", "worker"), ("refused", "apppool")):
        assert sample(metrics, "aspreset_restarts_total", site="shop-web", rung=rung, outcome=outcome) == 1, outcome
    assert sample(metrics, "aspreset_approval_wait_seconds_count", rung="worker") is None  # nobody approved
    assert sample(metrics, "aspreset_restart_duration_seconds_count", rung="worker") is None  # nothing ran
    runtime.close()


def test_a_host_that_fails_counts_the_request_as_failed_once(tmp_path):
    runtime, fake, _, metrics, _ = built(tmp_path)
    fake.fail_next("web01", HostUnreachable("web01", "no route"), op="apppool")

    reply = runtime.service.request(RECYCLE, ALICE, "cli")

    assert sample(metrics, "aspreset_restarts_total", site="shop-web", rung="apppool", outcome=reply.state) == 1
    assert reply.state in ("failed", "partially_failed")
    assert sample(metrics, "aspreset_restarts_total", site="shop-web", rung="apppool", outcome="succeeded") is None
    runtime.close()
