"""One deadline per host per operation, whatever the endpoint does: silent, dripping its answer a
few bytes at a time, or stalling mid-body, a call ends at its deadline with `winrm_timeout` naming
the host, what it was doing and after how many seconds, and the shell is deleted when the host
lets it be."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hostile_endpoint import HostileEndpoint, self_signed_certificate

from bot.app.errors import TimedOut
from bot.app.results import StatusResult
from bot.winrm.deadline import Deadlines
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts

# generous per-read timeouts, so only the deadline can end these calls
SLOW_READS = Timeouts(connect_s=2, read_s=30, max_operation_s=5)


@pytest.fixture
def hostile(farm) -> Iterator[HostileEndpoint]:
    with HostileEndpoint(farm.host("web01").wsman_port) as endpoint:
        yield endpoint


@pytest.fixture
def via_hostile(client, hostile):
    """web01 as the inventory would name it, reached through the misbehaving endpoint."""
    return client.hosts["web01"].model_copy(update={"port": hostile.port})


def _timed_out(executor: WinRMExecutor, host, params) -> tuple[TimedOut, float]:
    started = time.monotonic()
    with pytest.raises(TimedOut) as caught:
        executor.run("web01", host, params)
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize(
    ("kind", "action", "phase"),
    [
        ("silent", "Create", "opening a shell"),
        ("drip", "Create", "opening a shell"),
        ("stall", "Create", "opening a shell"),
        ("silent", "Receive", "receiving the status output"),
        ("drip", "Receive", "receiving the status output"),
        ("stall", "Receive", "receiving the status output"),
    ],
)
def test_a_misbehaving_endpoint_ends_at_the_status_deadline_naming_host_phase_and_seconds(
    hostile, via_hostile, call, kind, action, phase
):
    hostile.misbehave(kind, actions=[action])
    executor = WinRMExecutor(env={}, timeouts=SLOW_READS, deadlines=Deadlines(status_s=1.5, cleanup_s=0.3))

    error, took = _timed_out(executor, via_hostile, call("shop-web", "web01", "status").params)

    assert error.code == "winrm_timeout"
    assert str(error).startswith("web01: ")
    assert f"while {phase}" in error.detail
    assert "of the 1.5 s status deadline ([winrm] status_deadline_s)" in error.detail
    assert_the_numbers_add_up(error.detail)
    assert took < 1.5 + 1.0  # the deadline, not the 30 s read timeout; never retried past it
    assert hostile.misbehaved and hostile.misbehaved[0] == (kind, action)


def test_a_dripping_restart_is_terminated_and_its_shell_deleted_within_the_deadline(farm, hostile, via_hostile, call):
    web01 = farm.host("web01")
    hostile.misbehave("drip", actions=["Receive"], times=1)
    executor = WinRMExecutor(env={}, timeouts=SLOW_READS, deadlines=Deadlines(restart_s=2.0, cleanup_s=0.5))

    error, took = _timed_out(executor, via_hostile, call("shop-web", "web01", "apppool", timeout_s=1).params)

    assert "while receiving the apppool output" in error.detail
    assert "of the 2 s apppool deadline ([winrm] restart_deadline_s), keeping its last 0.5 s" in error.detail
    assert_the_numbers_add_up(error.detail)
    assert "partly happened" in error.detail and "terminated and its shell deleted" in error.detail
    assert took < 2.0 + 0.5
    assert hostile.actions[-2:] == ["Signal", "Delete"]
    assert web01.open_shells == 0


def test_a_silent_delete_costs_only_the_clean_up_budget(farm, hostile, via_hostile, call):
    hostile.misbehave("silent", actions=["Delete"])
    executor = WinRMExecutor(env={}, timeouts=SLOW_READS, deadlines=Deadlines(status_s=3.0, cleanup_s=0.4))
    started = time.monotonic()

    result = executor.run("web01", via_hostile, call("shop-web", "web01", "status").params)

    assert isinstance(result, StatusResult) and result.ok  # the answer is in hand; deleting is best effort
    assert time.monotonic() - started < 0.4 + 1.0


def test_a_silent_host_never_holds_up_the_other_hosts(farm, client, hostile, via_hostile, call):
    hostile.misbehave("silent")
    executor = WinRMExecutor(env={}, timeouts=SLOW_READS, deadlines=Deadlines(status_s=1.5, cleanup_s=0.3))
    calls = [
        ("web01", via_hostile, call("shop-web", "web01", "status").params),
        call("shop-web", "web02", "status"),
    ]
    started = time.monotonic()

    silent, answered = executor.run_many(calls)

    assert isinstance(silent, TimedOut) and silent.host == "web01"
    assert isinstance(answered, StatusResult) and answered.ok
    assert time.monotonic() - started < 1.5 + 1.0


def test_a_receive_that_rightly_waits_is_asked_again_within_the_deadline(farm, call):
    web01 = farm.host("web01")
    web01.inject_hang()
    executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=10, max_operation_s=1),
                             deadlines=Deadlines(restart_s=3.5, cleanup_s=0.5))

    with pytest.raises(TimedOut) as caught:
        executor.run(*call("shop-web", "web01", "apppool"))

    assert web01.actions.count("Receive") >= 2  # TimedOut faults are asked again, within the deadline
    assert web01.actions[-2:] == ["Signal", "Delete"] and web01.received[0].terminated
    assert web01.open_shells == 0
    assert "terminated and its shell deleted" in caught.value.detail


def test_an_https_listener_that_never_finishes_the_tls_handshake_ends_at_the_deadline(farm, client, call, tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with HostileEndpoint(farm.host("web01").wsman_port, tls=certificate) as endpoint:
        endpoint.hold_handshake = True
        https = client.hosts["web01"].model_copy(update={"port": endpoint.port, "scheme": "https", "transport": "ssl"})
        executor = WinRMExecutor(env={}, ca_trust_path=str(certificate[0]),
                                 timeouts=Timeouts(connect_s=30, read_s=30, max_operation_s=5),
                                 deadlines=Deadlines(status_s=1.5, cleanup_s=0.3))

        error, took = _timed_out(executor, https, call("shop-web", "web01", "status").params)

    assert "while opening a shell" in error.detail and "of the 1.5 s status deadline" in error.detail
    assert took < 1.5 + 1.0  # not the 30 s connect timeout: the deadline cut the handshake


@pytest.fixture
def dripping_proxy() -> Iterator[int]:
    """An http proxy that answers every request with a header line every 0.1 s, never ending it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.1):
                    conn.sendall(b"X-Slow: a\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(5)


def test_a_proxy_that_drips_its_answer_ends_at_the_deadline(client, call, dripping_proxy):
    executor = WinRMExecutor(env={}, proxy=f"http://127.0.0.1:{dripping_proxy}", timeouts=SLOW_READS,
                             deadlines=Deadlines(status_s=1.5, cleanup_s=0.3))

    error, took = _timed_out(executor, client.hosts["web01"], call("shop-web", "web01", "status").params)

    assert "while opening a shell" in error.detail and "of the 1.5 s status deadline" in error.detail
    assert took < 1.5 + 1.0  # each header resets the read timeout: only the deadline ends it


def assert_the_numbers_add_up(detail: str) -> None:
    """`gave up after W s of the D s ... deadline`, `keeping its last K s` once a shell was open: W + K
    is the deadline (never "gave up after 8 s, the deadline (= 9 s)" with the rest unexplained)."""
    found = re.search(r"gave up after ([\d.]+) s of the ([\d.]+) s", detail)
    assert found, detail
    waited, deadline = float(found.group(1)), float(found.group(2))
    kept = re.search(r"keeping its last ([\d.]+) s \(\[winrm\] cleanup_budget_s\)", detail)
    spent = waited + (float(kept.group(1)) if kept else 0.0)
    # the message says how long it really waited: on a loaded machine the deadline's thread can wake a
    # tenth of a second late, and each number is rounded to 0.1 s
    assert deadline - 0.25 <= spent <= deadline + 0.15, detail
