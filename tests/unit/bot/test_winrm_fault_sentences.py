"""The fault mapping on its own, for the cases the simulated farm cannot produce here (Kerberos and
CredSSP need their libraries and a KDC): each 401 names the account, the transport and what to
check; an answer pywinrm chokes on reads as a sentence, never as the exception's class name."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from winrm.exceptions import InvalidCredentialsError

from bot.winrm.deadline import Deadline, SocketWatch
from bot.winrm.faults import CallContext, map_exception
from bot.winrm.transport import Timeouts
from policies.inventory import Host


def _context(host: Host, *, command_started: bool = False) -> CallContext:
    deadline = Deadline(30, SocketWatch(), setting="restart_deadline_s")
    deadline.phase = "opening a shell"
    return CallContext("web03", host, "apppool", deadline, Timeouts(), "svc-aspreset", command_started, 1)


@pytest.mark.parametrize(
    ("host", "hints"),
    [
        (Host(address="web03.corp.example", transport="kerberos"),
         ("over Kerberos (transport 'kerberos')", "klist", "SPN", "clock", "not an IP")),
        (Host(address="web03.corp.example", transport="credssp", password_env="WINRM_PW", username="CORP\\svc"),
         ("over CredSSP (transport 'credssp')", "Enable-WSManCredSSP", "$WINRM_PW")),
        (Host(address="web03.corp.example", transport="ssl", password_file="/run/secrets/pw", username="svc"),
         ("over Basic authentication (transport 'ssl')", "/run/secrets/pw", "local account")),
        (Host(address="web03.corp.example", transport="certificate", scheme="https", cert_pem="/etc/c.pem",
              cert_key_pem="/etc/k.pem"),
         ("refused the client certificate /etc/c.pem", "certmapping")),
    ],
)
def test_a_401_names_the_account_the_transport_and_what_to_check(host, hints):
    failure = map_exception(_context(host), InvalidCredentialsError("rejected"))

    assert failure.error.code == "auth_failed" and not failure.transient
    for hint in hints:
        assert hint in failure.error.detail
    if host.transport != "certificate":
        assert "'svc-aspreset'" in failure.error.detail


@pytest.mark.parametrize("exc", [ET.ParseError("not well-formed"), StopIteration(), KeyError("ShellId")])
def test_an_answer_the_library_cannot_read_is_a_sentence_without_a_class_name(exc):
    failure = map_exception(_context(Host(address="web03", transport="ntlm"), command_started=True), exc)

    text = failure.error.detail
    assert failure.error.code == "protocol_error"
    assert "is not WS-Management" in text and "while opening a shell" in text
    for name in ("ParseError", "StopIteration", "KeyError", "Error"):
        assert name not in text
