"""Every way a WinRM endpoint can answer wrongly reads as a sentence a Windows admin can act on:
what answered, while doing what, and what to check or change. Never an exception class name."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from hostile_endpoint import HostileEndpoint, self_signed_certificate

from bot.app.errors import AuthenticationFailed, ExecutionError, HostUnreachable, ProtocolError
from bot.app.results import StatusResult
from bot.sim.wsman import WsmanFaultSpec
from bot.winrm.executor import WinRMExecutor
from bot.winrm.fault_codes import ACCESS_DENIED, MAX_OPERATIONS, MAX_SHELLS
from bot.winrm.transport import Timeouts

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|StopIteration|ReadTimeout|ConnectTimeout")


def _says(error: ExecutionError, *hints: str) -> str:
    text = str(error)
    assert text.startswith("web01: ")
    assert not CLASS_NAME.search(text), f"an exception class name in: {text}"
    for hint in hints:
        assert hint in text, f"{hint!r} not in: {text}"
    return text


@pytest.fixture
def executor() -> WinRMExecutor:
    return WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=10, max_operation_s=5), deadline_s=10)


@pytest.fixture
def hostile(farm) -> Iterator[HostileEndpoint]:
    with HostileEndpoint(farm.host("web01").wsman_port) as endpoint:
        yield endpoint


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


@pytest.fixture
def tls_endpoint(farm, certificate) -> Iterator[HostileEndpoint]:
    with HostileEndpoint(farm.host("web01").wsman_port, tls=certificate) as endpoint:
        yield endpoint


def _through(client, port: int, **update):
    return client.hosts["web01"].model_copy(update={"port": port, **update})


def _error(executor, host, params, kind: type[ExecutionError]) -> ExecutionError:
    with pytest.raises(kind) as caught:
        executor.run("web01", host, params)
    return caught.value


def test_an_html_page_instead_of_wsman_says_a_proxy_or_a_wrong_url_is_answering(client, hostile, executor, call):
    hostile.misbehave("html", actions=["Create"])

    error = _error(executor, _through(client, hostile.port), call("shop-web", "web01", "status").params, ProtocolError)

    _says(error, "HTTP 200 with a web page ('Proxy Authentication Required')", "while opening a shell", "proxy",
          "the URL is wrong", "/wsman")


def test_a_proxy_error_page_is_named_with_its_status(client, hostile, executor, call):
    hostile.misbehave("html_500", actions=["Command"])

    error = _error(executor, _through(client, hostile.port), call("shop-web", "web01", "apppool").params, ProtocolError)

    _says(error, "HTTP 502 with a web page ('502 Bad Gateway')", "while starting the apppool command",
          "proxy")


def test_a_200_that_is_not_xml_says_that_is_not_winrm(farm, client, hostile, executor, call):
    hostile.misbehave("not_xml", actions=["Receive"])

    error = _error(executor, _through(client, hostile.port), call("shop-web", "web01", "apppool").params, ProtocolError)

    _says(error, "HTTP 200 with something that is not XML ('OK'", "while receiving the apppool output",
          "that is not WinRM", "may already have started")
    assert hostile.actions[-1] == "Delete" and farm.host("web01").open_shells == 0


def test_a_connection_reset_mid_reply_is_host_unreachable_and_the_shell_is_still_deleted(
    farm, client, hostile, executor, call
):
    hostile.misbehave("reset", actions=["Receive"], times=1)

    params = call("shop-web", "web01", "worker").params
    error = _error(executor, _through(client, hostile.port), params, HostUnreachable)

    _says(error, "reset the connection while receiving the worker output", "may already have started")
    assert hostile.actions[-2:] == ["Signal", "Delete"] and farm.host("web01").open_shells == 0


def test_a_401_over_ntlm_names_the_account_the_transport_and_what_to_check(farm, executor, call):
    ntlm_host = farm.client_inventory(transport="ntlm").hosts["web01"]
    farm.host("web01").inject_unauthorized()

    error = _error(executor, ntlm_host, call("shop-web", "web01", "status").params, AuthenticationFailed)

    _says(error, "refused user 'aspreset-lab' (HTTP 401) over NTLM", "DOMAIN\\user", "Negotiate",
          "LocalAccountTokenFilterPolicy", "aspreset doctor web01")


@pytest.mark.parametrize(
    ("code", "action", "setting", "command"),
    [
        (MAX_SHELLS, "Create", "MaxShellsPerUser", "winrm set winrm/config/winrs"),
        (MAX_OPERATIONS, "Command", "MaxConcurrentOperationsPerUser", "winrm set winrm/config/service"),
    ],
)
def test_a_quota_fault_names_its_code_its_text_and_the_setting_to_raise(farm, executor, call, code, action, setting,
                                                                        command):
    reason = f"The WS-Management service cannot process the request. The {setting} quota has been exceeded."
    farm.host("web01").inject_fault(WsmanFaultSpec(code=code, subcode="w:QuotaLimit", reason=reason), actions=[action])

    error = _error(executor, *call("shop-web", "web01", "apppool")[1:], ProtocolError)

    _says(error, f"fault {code} (0x{code:08X}), w:QuotaLimit", f"The {setting} quota has been exceeded", setting,
          command)


def test_access_denied_is_an_authentication_failure_naming_the_administrators_group(farm, executor, call):
    farm.host("web01").inject_fault(
        WsmanFaultSpec(code=ACCESS_DENIED, subcode="w:AccessDenied", reason="Access is denied."), actions=["Create"]
    )

    error = _error(executor, *call("shop-web", "web01", "status")[1:], AuthenticationFailed)

    _says(error, "0x80070005", "Access is denied.", "Administrators", "LocalAccountTokenFilterPolicy")


def test_an_untrusted_certificate_names_the_certificate_and_how_to_trust_it(client, tls_endpoint, executor, call):
    https = _through(client, tls_endpoint.port, scheme="https", transport="ssl")

    error = _error(executor, https, call("shop-web", "web01", "status").params, ProtocolError)

    _says(error, "its certificate for 'wsman.hostile.example'", "self-signed", "does not trust", "ca_trust_path",
          "REQUESTS_CA_BUNDLE")


def test_trusting_that_certificate_as_the_message_says_makes_the_call_work(client, tls_endpoint, certificate, call):
    https = _through(client, tls_endpoint.port, scheme="https", transport="ssl")
    trusting = WinRMExecutor(env={}, ca_trust_path=str(certificate[0]), deadline_s=10)

    result = trusting.run("web01", https, call("shop-web", "web01", "status").params)

    assert isinstance(result, StatusResult) and result.ok


def test_https_to_a_plain_http_listener_says_the_port_does_not_speak_tls(farm, client, executor, call):
    https_on_http = _through(client, farm.host("web01").wsman_port, scheme="https", transport="ssl")

    error = _error(executor, https_on_http, call("shop-web", "web01", "status").params, ProtocolError)

    _says(error, "does not speak TLS", "plain-HTTP listener", "5985", 'scheme = "http"')


def test_http_to_an_https_listener_says_the_port_is_tls(client, tls_endpoint, executor, call):
    http_on_https = _through(client, tls_endpoint.port, scheme="http")

    error = _error(executor, http_on_https, call("shop-web", "web01", "status").params, ProtocolError)

    _says(error, "HTTPS (TLS) listener", "5986", 'scheme = "https"')


def test_a_name_that_does_not_resolve_says_so(client, executor, call, monkeypatch):
    # A real lookup would ask a DNS server off this machine: the resolver is the one part faked.
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if host == "web01.nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    unknown = client.hosts["web01"].model_copy(update={"address": "web01.nowhere.invalid"})

    error = _error(executor, unknown, call("shop-web", "web01", "status").params, HostUnreachable)

    _says(error, "the name 'web01.nowhere.invalid' does not resolve (DNS)", "inventory", "aspreset doctor web01")
