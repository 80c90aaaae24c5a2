"""One WinRM session per host, reused: NTLM's handshake is paid once per host, a session is never
used by two threads at once, and a session that went stale or failed is replaced."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hostile_endpoint import HostileEndpoint

from bot.sim.wsman import WsmanFaultSpec
from bot.winrm.credentials import Credentials
from bot.winrm.deadline import Deadlines
from bot.winrm.executor import WinRMExecutor
from bot.winrm.sessions import SessionCache, session_key
from policies.inventory import Host


def test_later_operations_on_a_host_reuse_its_session_and_skip_the_ntlm_handshake(farm, executor, call):
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    counts = []
    for op in ("status", "appdomain", "status"):
        web01.reset_counters()
        assert executor.run("web01", host, call("shop-web", "web01", op).params).ok
        counts.append(web01.requests)
    assert counts == [8, 5, 5]  # the handshake (empty POST, NEGOTIATE, AUTHENTICATE) once
    assert executor.sessions.built == 1


def test_a_server_that_completes_ntlm_only_on_an_empty_body_is_reached(farm, call):
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    web01.wsman.authenticate_alone = True  # as OMI: AUTHENTICATE must come on an empty POST
    try:
        web01.reset_counters()
        assert WinRMExecutor(env={}).run("web01", host, call("shop-web", "web01", "status").params).ok
        # pywinrm's handshake is that way already: empty POST, NEGOTIATE, AUTHENTICATE alone, then
        # Create, Command, Send, Receive, Delete
        assert web01.requests == 8
        assert web01.actions == ["Create", "Command", "Send", "Receive", "Delete"]
    finally:
        web01.wsman.authenticate_alone = False


def test_a_reused_session_whose_connection_was_dropped_is_replaced_before_anything_runs(farm, executor, call):
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok
    web01.inject_drop(actions=["Create"], times=1)  # the server closed the idle connection
    result = executor.run("web01", host, call("shop-web", "web01", "appdomain").params)
    assert result.ok, result
    assert sum(b"aspreset-operation: appdomain" in bytes(c.stdin) for c in web01.received) == 1, "ran once"


def test_a_session_that_saw_a_failure_is_not_reused(farm, call):
    executor = WinRMExecutor(env={})
    web01, host = farm.host("web01"), farm.client_inventory().hosts["web01"]
    web01.inject_fault(actions=["Command"], times=1)
    executor.run_many([("web01", host, call("shop-web", "web01", "appdomain").params)])
    assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok
    assert executor.sessions.built == 2


class FakeSession:
    def __init__(self) -> None:
        self.closed = False
        self.reused = False
        self.kept_shell = None

    def close(self) -> None:
        self.closed = True


KEY = ("web01", "http://x/wsman", "ntlm", "u", "d")


def test_a_session_is_lent_to_one_caller_at_a_time():
    cache = SessionCache()
    first = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    second = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    assert first is not second and cache.built == 2
    cache.give_back(first, reusable=True)
    again = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    assert again is first and again.reused


def test_a_session_that_failed_or_idled_past_its_time_is_closed_and_a_new_one_made():
    now = [0.0]
    cache = SessionCache(idle_s=60, clock=lambda: now[0])
    failed = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    cache.give_back(failed, reusable=False)
    assert failed.closed
    old = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    cache.give_back(old, reusable=True)
    now[0] = 61.0
    fresh = cache.take(KEY, FakeSession)  # type: ignore[arg-type]
    assert fresh is not old and old.closed


def test_another_password_gets_another_session_and_the_key_holds_no_password():
    host = Host(address="web01", transport="ntlm", password_env="P")
    one = session_key("web01", host, Credentials(username="u", password="a"))
    two = session_key("web01", host, Credentials(username="u", password="b"))
    assert one != two and "a" not in one and "b" not in two and len(one[4]) == 16


@pytest.fixture
def keeping() -> Iterator[WinRMExecutor]:
    """An executor that keeps shells, closed after the test (its shells deleted then, not by its idle
    timer a minute on, when this test's farm is gone)."""
    executor = WinRMExecutor(env={}, keep_shells=True)
    yield executor
    executor.close()


def test_with_kept_shells_a_later_operation_is_command_send_receive_and_closing_deletes_the_shell(farm, call):
    executor = WinRMExecutor(env={}, keep_shells=True)
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok
    assert web01.actions[-4:] == ["Create", "Command", "Send", "Receive"] and web01.open_shells == 1
    web01.reset_counters()
    assert executor.run("web01", host, call("shop-web", "web01", "appdomain").params).ok
    assert web01.actions == ["Command", "Send", "Receive"] and web01.requests == 3
    executor.close()
    assert web01.open_shells == 0


def test_closing_the_executor_deletes_the_shell_kept_on_every_host(farm, call):
    executor = WinRMExecutor(env={}, keep_shells=True)
    client = farm.client_inventory(transport="ntlm")
    sites = {"web01": "shop-web", "web02": "shop-web", "web03": "intranet"}
    names = list(sites)
    results = executor.run_many([(n, client.hosts[n], call(sites[n], n, "status").params) for n in names])
    assert all(r.ok for r in results) and [farm.host(n).open_shells for n in names] == [1, 1, 1]

    executor.close()

    assert [farm.host(n).open_shells for n in names] == [0, 0, 0] and executor.sessions.kept == 0
    # a session handed back after the close is closed too: nothing is left for the server to time out
    assert executor.run("web01", client.hosts["web01"], call("shop-web", "web01", "status").params).ok
    assert farm.host("web01").open_shells == 0


def test_a_host_that_does_not_answer_the_delete_costs_only_the_clean_up_budget_at_close(farm, client, call):
    with HostileEndpoint(farm.host("web01").wsman_port) as hostile:
        silent = client.hosts["web01"].model_copy(update={"port": hostile.port})
        executor = WinRMExecutor(env={}, keep_shells=True, deadlines=Deadlines.every(10, cleanup_s=0.5))
        executor.run_many([("web01", silent, call("shop-web", "web01", "status").params),
                           ("web02", client.hosts["web02"], call("shop-web", "web02", "status").params)])
        hostile.misbehave("silent", actions=["Delete"])
        started = time.monotonic()
        executor.close()
        took = time.monotonic() - started

    assert farm.host("web02").open_shells == 0  # told in parallel, not after web01's wait
    assert took < 0.5 + 1.0


def test_a_kept_session_that_idles_out_is_closed_by_its_timer_and_its_shell_deleted(farm, call, wait_until):
    executor = WinRMExecutor(env={}, keep_shells=True, sessions=SessionCache(idle_s=0.3))
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok
    assert web01.open_shells == 1 and executor.sessions.kept == 1

    # nobody takes a session again: the cache's own timer deletes the shell
    wait_until(lambda: web01.open_shells == 0, timeout_s=5, what="the idle session's shell to be deleted")
    assert executor.sessions.kept == 0 and web01.actions[-1] == "Delete"


def test_a_kept_shell_the_server_dropped_is_replaced_and_the_operation_runs_once(farm, call, keeping):
    executor = keeping
    web01, host = farm.host("web01"), farm.client_inventory().hosts["web01"]
    assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok
    # WinRM restarted or the shell's idle timeout passed: "the shell was not found"
    web01.inject_fault(WsmanFaultSpec(code=0x8033805B, subcode="w:InvalidSelectors", reason="shell not found"),
                       actions=["Command"], times=1)
    assert executor.run("web01", host, call("shop-web", "web01", "appdomain").params).ok
    assert sum(b"aspreset-operation: appdomain" in bytes(c.stdin) for c in web01.received) == 1


def test_connecting_ahead_opens_the_session_and_shell_and_runs_nothing(farm, call, keeping):
    executor = keeping
    web01, host = farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"]
    executor.connect("web01", host)
    assert web01.actions == ["Create"] and web01.received == []
    web01.reset_counters()
    assert executor.run("web01", host, call("shop-web", "web01", "appdomain").params).ok
    assert web01.requests == 3 and executor.sessions.built == 1


def test_connecting_ahead_to_a_host_that_does_not_answer_leaves_the_error_to_the_operation(farm, call, keeping):
    executor = keeping
    host = farm.client_inventory().hosts["web01"].model_copy(update={"port": 9})  # nothing listens there
    executor.connect("web01", host)  # does not raise
    assert executor.sessions.built == 1
