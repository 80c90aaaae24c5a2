"""Every fault a WinRM host can throw becomes one typed error with a message that says what to
check, no shell is left open on the host, and no secret reaches an error or a log."""

from __future__ import annotations

import logging
import socket

import pytest
import structlog

from bot.app.errors import (
    AuthenticationFailed,
    ConfigError,
    ExecutionError,
    HostUnreachable,
    InsecureTransport,
    ProtocolError,
    ScriptFailed,
    TimedOut,
)
from bot.app.results import StatusResult
from bot.sim.wsman import QUOTA_CODE, WsmanFaultSpec
from bot.winrm import executor as executor_module
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts


def _fails(executor: WinRMExecutor, host_call, error: type[ExecutionError]) -> ExecutionError:
    with pytest.raises(error) as caught:
        executor.run(*host_call)
    assert caught.value.host == host_call.host_name
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # nothing chained
    return caught.value


def test_401_is_authentication_failed_saying_what_to_check(farm, executor, call):
    web01 = farm.host("web01")
    web01.inject_unauthorized()

    error = _fails(executor, call("shop-web", "web01", "apppool"), AuthenticationFailed)

    for hint in ("401", "'aspreset-lab'", "password", "Basic", "local account", "aspreset doctor web01"):
        assert hint in error.detail
    assert web01.open_shells == 0
    assert web01.actions == ["Create"]  # not retried: a mutating op, and 401 is not transient


def test_wrong_password_is_authentication_failed(client, executor, call):
    wrong = client.hosts["web02"].model_copy(update={"password": "not-the-password"})
    host_call = call("shop-web", "web02", "status")

    with pytest.raises(AuthenticationFailed):
        executor.run("web02", wrong, host_call.params)


def test_soap_fault_is_a_protocol_error_with_its_code_and_the_shell_is_deleted(farm, executor, call):
    web01 = farm.host("web01")
    web01.inject_fault(WsmanFaultSpec(), actions=["Command"])

    error = _fails(executor, call("shop-web", "web01", "apppool"), ProtocolError)

    assert str(QUOTA_CODE) in error.detail and "0x803381A6" in error.detail
    assert "MaxConcurrentOperationsPerUser" in error.detail and "winrm set winrm/config/service" in error.detail
    assert "while starting the apppool command" in error.detail
    assert "maximum number of concurrent operations" in error.detail  # the server's own words
    assert web01.actions == ["Create", "Command", "Delete"]
    assert web01.open_shells == 0


def test_unknown_fault_code_names_the_code_and_how_to_look_it_up(farm, executor, call):
    web01 = farm.host("web01")
    web01.inject_fault(WsmanFaultSpec(code=2150858999, subcode="w:InternalError", reason="Something odd."))

    error = _fails(executor, call("shop-web", "web01", "worker"), ProtocolError)

    assert "2150858999" in error.detail and "winrm helpmsg 0x803380F7" in error.detail
    assert web01.open_shells == 0


def test_an_answer_slower_than_the_read_timeout_is_timed_out(farm, call):
    web01 = farm.host("web01")
    web01.inject_latency(0.5)
    executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=0.2, max_operation_s=1))

    error = _fails(executor, call("shop-web", "web01", "appdomain"), TimedOut)

    assert "sent nothing for 0.2 s while opening a shell" in error.detail
    # The Create the client gave up on may still open a shell on a real host too; WinRM's idle
    # timeout removes it. Nothing was run.
    assert all(c.operation is None for c in web01.received)


def test_dropped_connection_is_host_unreachable_and_the_shell_is_deleted(farm, executor, call):
    web02 = farm.host("web02")
    web02.inject_drop(actions=["Receive"], times=1)

    error = _fails(executor, call("shop-web", "web02", "apppool"), HostUnreachable)

    assert "connection while receiving the apppool output, before WinRM answered" in error.detail
    assert "may already have started" in error.detail  # a mutating op: look before repeating
    assert web02.actions == ["Create", "Command", "Send", "Receive", "Signal", "Delete"]
    assert web02.open_shells == 0


def test_read_only_operation_is_retried_once_after_a_dropped_connection(farm, executor, call):
    web02 = farm.host("web02")
    web02.inject_drop(actions=["Receive"], times=1)

    result = executor.run(*call("shop-web", "web02", "status"))

    assert isinstance(result, StatusResult) and result.ok
    assert web02.actions.count("Command") == 2
    assert web02.open_shells == 0


def test_mutating_operations_are_never_retried(farm, executor, call):
    web02 = farm.host("web02")
    for op in ("appdomain", "apppool", "worker"):
        web02.reset_counters()
        web02.inject_drop(actions=["Create"], times=1)
        _fails(executor, call("shop-web", "web02", op), HostUnreachable)
        assert web02.actions == ["Create"], op


def test_nothing_listening_is_host_unreachable_pointing_at_port_firewall_and_doctor(client, executor, call):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    closed = client.hosts["web01"].model_copy(update={"port": free_port})
    host_call = call("shop-web", "web01", "status")

    with pytest.raises(HostUnreachable) as caught:
        executor.run("web01", closed, host_call.params)

    for hint in ("connection refused", f"nothing listens on port {free_port}", "5985 http, 5986 https", "firewall",
                 "aspreset doctor web01"):
        assert hint in caught.value.detail


def test_script_that_exits_non_zero_is_script_failed_with_its_stderr(farm, executor, call, monkeypatch):
    monkeypatch.setattr(executor_module, "stdin_payload", lambda params: "Write-Output 'no marker'\n")

    error = _fails(executor, call("shop-web", "web01", "status"), ScriptFailed)

    assert isinstance(error, ScriptFailed) and error.code == "exit_1"
    assert "marker" in error.detail
    assert farm.host("web01").open_shells == 0


def test_stdout_that_is_not_one_json_object_is_a_protocol_error_naming_the_host(farm, executor, call):
    web01 = farm.host("web01")
    web01.inject_script_output(b'Loading personal profile...\r\n{"ok": true}\r\n')

    error = _fails(executor, call("shop-web", "web01", "status"), ProtocolError)
    assert "2 lines" in error.detail and str(error).startswith("web01: ")

    web01.inject_script_output(b'{"ok": true, "surprise": 1}\r\n')
    error = _fails(executor, call("shop-web", "web01", "status"), ProtocolError)
    assert "StatusResult" in error.detail and "surprise" in error.detail


def test_basic_over_plain_http_is_refused_before_any_traffic_unless_lab(farm, client, executor, call):
    web01 = farm.host("web01")
    real = client.hosts["web01"].model_dump()
    real.update(lab=False, transport="ssl", scheme="http", password=None, password_env="WINRM_PW")
    host = type(client.hosts["web01"]).model_validate(real)
    not_lab = client.hosts["web01"].model_construct(**{**client.hosts["web01"].__dict__, "lab": False})
    web01.reset_counters()

    for insecure in (host, not_lab):
        with pytest.raises(InsecureTransport) as caught:
            executor.run("web01", insecure, call("shop-web", "web01", "status").params)
        assert "in clear" in caught.value.detail
    with pytest.raises(InsecureTransport):
        executor.run_many(
            [call("shop-web", "web02", "apppool"), ("web01", not_lab, call("shop-web", "web01", "apppool").params)]
        )
    assert web01.requests == 0 and farm.host("web02").requests == 0  # nobody was touched


def test_missing_credentials_are_a_config_error_naming_the_variable_not_a_value(inventory, call):
    executor = WinRMExecutor(env={"ASPRESET_WINRM_USER": "deploy"})
    host_call = call("shop-web", "web01", "status")

    with pytest.raises(ConfigError) as caught:
        executor.run("web01", inventory.hosts["web01"], host_call.params)

    assert "hosts.web01.password_env names ASPRESET_WINRM_PASSWORD" in str(caught.value)


def test_credentials_come_from_environment_variables_and_files(farm, client, call, tmp_path):
    web01 = client.hosts["web01"]
    secret_file = tmp_path / "winrm-password"
    secret_file.write_text(farm.password + "\n", encoding="utf-8")
    from_env = web01.model_copy(update={"username": None, "username_env": "U", "password": None, "password_env": "P"})
    from_file = web01.model_copy(update={"password": None, "password_file": str(secret_file)})
    executor = WinRMExecutor(env={"U": farm.username, "P": farm.password})

    for host in (from_env, from_file):
        assert executor.run("web01", host, call("shop-web", "web01", "status").params).ok


def test_secrets_never_reach_an_error_or_a_log(farm, executor, call, caplog):
    password = farm.password
    web01 = farm.host("web01")
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        for inject, error in (
            (lambda: web01.inject_unauthorized(), AuthenticationFailed),
            (lambda: web01.inject_drop(), HostUnreachable),
            (lambda: web01.inject_fault(), ProtocolError),
            (lambda: web01.inject_script_output(b"junk\r\n"), ProtocolError),
        ):
            web01.clear_faults()
            inject()
            with pytest.raises(error) as caught:
                executor.run(*call("shop-web", "web01", "status"))
            texts += [str(caught.value), repr(caught.value), caught.value.detail, repr(caught.value.__dict__)]
        web01.clear_faults()
        executor.run(*call("shop-web", "web01", "status"))
    texts += [repr(event) for event in events] + [caplog.text]
    texts.append(repr(executor.prepare("web01", call("shop-web", "web01", "status").host)))

    assert events and all(event["event"] == "winrm.call" and "host" in event for event in events)
    for text in texts:
        assert password not in text


def test_wrong_ntlm_password_is_authentication_failed(farm, executor, call):
    wrong = farm.client_inventory(transport="ntlm").hosts["web01"].model_copy(update={"password": "nope"})

    with pytest.raises(AuthenticationFailed):
        executor.run("web01", wrong, call("shop-web", "web01", "status").params)
    assert farm.host("web01").open_shells == 0
    assert farm.host("web01").actions == []  # refused at the handshake: nothing reached the shell
