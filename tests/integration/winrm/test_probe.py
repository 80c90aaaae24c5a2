"""The watch's probe through real WinRM against the simulated farm: one kept session and shell per
host (no new shell per probe), and each fault the demo's control can cause told apart by what the
probe saw on the host."""

from __future__ import annotations

import pytest

from bot.app.results import ProbeResult
from bot.app.watch.classify import Kind, classify
from bot.app.watch.probe import probe_params
from bot.sim.control import apply
from bot.winrm.executor import WinRMExecutor
from policies.watch import Watch

WATCH = Watch(interval_s=5, timeout_s=0.5, slow_ms=200, memory_mb=500)


@pytest.fixture
def probing(farm, client):
    executor = WinRMExecutor(env={}, keep_shells=True, deadline_s=20)

    def probe(host: str = "web02", site: str = "shop-web") -> ProbeResult:
        result = executor.run(host, client.hosts[host], probe_params(client.sites[site], client.hosts[host], WATCH))
        assert isinstance(result, ProbeResult)
        return result

    yield probe
    executor.close()


def test_a_healthy_host_answers_quickly_with_its_worker_and_private_bytes(probing):
    result = probing()
    reading = classify("web02", result, WATCH)
    assert reading.healthy, reading.findings
    assert reading.status == 200 and result.pool_state == "Started"
    assert result.workers and all(w.private_bytes and w.private_bytes > 0 for w in result.workers)


def test_later_probes_reuse_the_hosts_session_and_shell(farm, probing):
    probing()
    web02 = farm.host("web02")
    web02.reset_counters()
    probing()
    probing()
    assert web02.actions == ["Command", "Send", "Receive"] * 2 and web02.open_shells == 1


def test_a_hung_worker_makes_the_probe_time_out_while_the_worker_lives(farm, probing):
    before = probing()
    assert apply(farm, "hang web02").startswith("ok:")
    result = probing()
    reading = classify("web02", result, WATCH, previous_workers=before.workers)
    assert reading.kinds() == {Kind.HUNG}
    assert [w.pid for w in result.workers] == [w.pid for w in before.workers]  # the same worker, alive
    assert classify("web01", probing("web01"), WATCH).healthy  # its neighbour is fine


def test_a_pool_an_operator_stopped_shows_as_stopped_not_hung(farm, probing):
    apply(farm, "stop web02 ShopPool")
    result = probing()
    reading = classify("web02", result, WATCH)
    assert reading.kinds() == {Kind.POOL_STOPPED}
    answer = result.warmups[-1]
    assert answer.status == 503 and answer.error_line == "HTTP Error 503. The service is unavailable."
    assert "stopped by a person or a script" in reading.findings[0].evidence


def test_a_crash_loop_stopped_by_rapid_fail_protection_says_so(farm, probing):
    probing()
    for _ in range(5):
        apply(farm, "crash web02 ShopPool")
    result = probing()
    reading = classify("web02", result, WATCH)
    assert reading.kinds() == {Kind.POOL_STOPPED} and result.rapid_fail_stop_at
    assert "rapid-fail protection stopping it" in reading.findings[0].evidence


def test_a_slow_host_is_slow_and_a_leaking_one_is_memory(farm, probing):
    probing()
    assert apply(farm, "slow web02 300").startswith("ok:")
    assert classify("web02", probing(), WATCH).kinds() == {Kind.SLOW}
    apply(farm, "slow web02 0")
    assert apply(farm, "leak web02 900").startswith("ok:")
    reading = classify("web02", probing(), WATCH)
    assert reading.kinds() == {Kind.MEMORY} and "900 MiB" in reading.findings[0].evidence


def test_a_worker_that_restarted_on_its_own_is_seen(farm, probing):
    first = probing()
    apply(farm, "crash web02 ShopPool")
    reading = classify("web02", probing(), WATCH, previous_workers=first.workers)
    assert reading.kinds() == {Kind.RESTARTED}


def test_the_control_refuses_a_slow_or_leak_without_a_number_and_changes_nothing(farm):
    assert apply(farm, "slow web02 fast") == "error: slow web02 needs a number of MS (milliseconds), 0 or more"
    assert apply(farm, "leak web02") == "error: leak web02 needs a number of MB (MiB), 0 or more"
    assert all(app.answer_delay_s == 0 for site in farm.host("web02").iis.sites.values() for app in site.apps.values())
