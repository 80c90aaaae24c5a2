"""One probe judged: each thing that can be wrong with an app on a host is told apart from the others
by what the probe saw, never by guessing; a healthy probe has no finding."""

from __future__ import annotations

from bot.app.errors import TimedOut
from bot.app.results import ProbeResult, ProbeWorker, WarmupAnswer
from bot.app.watch.classify import Kind, classify
from policies.watch import Watch

WATCH = Watch(timeout_s=5, slow_ms=800, memory_mb=1024)
W1 = ProbeWorker(pid=4000, started_at="2026-12-07T08:00:00.000001Z", private_bytes=300 * 1024 * 1024)
W2 = ProbeWorker(pid=4004, started_at="2026-12-07T09:00:00.000001Z", private_bytes=200 * 1024 * 1024)


def probe(status: int | None = 200, ms: int = 40, failure: str = "", server: str = "Microsoft-IIS/10.0",
          pool_state: str = "Started", workers: tuple[ProbeWorker, ...] = (W1,), **extra: object) -> ProbeResult:
    answer = WarmupAnswer(url="http://127.0.0.1:80/", status=status, ms=ms, failure=failure, server=server)
    return ProbeResult(ok=True, pool_state=pool_state, workers=list(workers), warmups=[answer], **extra)


def kinds(result: ProbeResult | TimedOut, **kwargs: object) -> list[Kind]:
    return [f.kind for f in classify("web02", result, WATCH, **kwargs).findings]  # type: ignore[arg-type]


def test_a_quick_200_from_the_app_is_healthy():
    reading = classify("web02", probe(), WATCH)
    assert reading.healthy and reading.ms == 40 and reading.status == 200


def test_no_answer_within_the_timeout_while_the_worker_lives_is_hung():
    reading = classify("web02", probe(status=None, ms=5000, failure="Timeout"), WATCH)
    assert reading.kinds() == {Kind.HUNG}
    assert "no answer within 5 s while worker 4000 lives" in reading.findings[0].evidence


def test_no_answer_and_no_worker_is_failing_not_hung():
    assert kinds(probe(status=None, failure="timeout", workers=())) == [Kind.FAILING]
    assert kinds(probe(status=None, failure="ConnectFailure")) == [Kind.FAILING]


def test_a_5xx_from_the_application_is_failing():
    assert kinds(probe(status=500)) == [Kind.FAILING]
    assert kinds(probe(status=503)) == [Kind.FAILING]  # the app's own 503 (app_offline, say), not HTTP.sys'


def test_http_sys_answering_503_itself_means_the_pool_stopped_even_with_its_header_hidden():
    assert kinds(probe(status=503, server="Microsoft-HTTPAPI/2.0")) == [Kind.POOL_STOPPED]
    hidden = probe(status=503, server="")
    hidden.warmups[-1].error_line = "HTTP Error 503. The service is unavailable."
    assert kinds(hidden) == [Kind.POOL_STOPPED]


def test_a_stopped_pool_says_whether_rapid_fail_protection_stopped_it():
    by_was = classify("web02", probe(status=503, server="Microsoft-HTTPAPI/2.0", pool_state="Stopped", workers=(),
                                     rapid_fail_stop_at="2026-12-07T09:10:00Z"), WATCH)
    assert by_was.kinds() == {Kind.POOL_STOPPED}
    assert "rapid-fail protection stopping it at 2026-12-07T09:10:00Z" in by_was.findings[0].evidence
    by_hand = classify("web02", probe(status=503, server="Microsoft-HTTPAPI/2.0", pool_state="Stopped"), WATCH)
    assert "stopped by a person or a script" in by_hand.findings[0].evidence


def test_an_answer_over_the_slow_threshold_is_slow():
    assert kinds(probe(ms=801)) == [Kind.SLOW]
    assert kinds(probe(ms=800)) == []
    assert kinds(probe(ms=5000)) == [Kind.SLOW]
    assert classify("web02", probe(ms=9999), Watch(timeout_s=10, slow_ms=None)).healthy


def test_a_worker_over_the_memory_threshold_is_memory_and_names_it():
    heavy = ProbeWorker(pid=4008, started_at="2026-12-07T09:00:00Z", private_bytes=1500 * 1024 * 1024)
    reading = classify("web02", probe(workers=(W1, heavy)), WATCH)
    assert reading.kinds() == {Kind.MEMORY}
    assert "worker 4008 holds 1500 MiB" in reading.findings[0].evidence
    assert classify("web02", probe(workers=(heavy,)), Watch()).healthy  # no memory_mb: not watched


def test_a_new_worker_with_no_request_of_ours_is_a_restart_on_its_own():
    assert kinds(probe(workers=(W2,)), previous_workers=[W1]) == [Kind.RESTARTED]
    assert kinds(probe(workers=(W2,)), previous_workers=[W1], ours_ran=True) == []  # our own restart
    assert kinds(probe(workers=(W1,)), previous_workers=[W1]) == []
    assert kinds(probe(workers=(W2,))) == []  # the first probe has nothing to compare with


def test_a_reused_pid_with_a_new_start_time_is_a_new_worker():
    reused = ProbeWorker(pid=W1.pid, started_at="2026-12-07T09:30:00Z")
    assert kinds(probe(workers=(reused,)), previous_workers=[W1]) == [Kind.RESTARTED]


def test_a_probe_that_could_not_run_is_unreachable():
    assert kinds(TimedOut("web02", "no answer within 15 s")) == [Kind.UNREACHABLE]
    failed = ProbeResult(ok=False, error_code="site_not_found", error="IIS has no site by the name given")
    reading = classify("web02", failed, WATCH)
    assert reading.kinds() == {Kind.UNREACHABLE} and "site_not_found" in reading.findings[0].evidence
