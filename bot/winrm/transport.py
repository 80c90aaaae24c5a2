"""Building a pywinrm `Protocol` for one host, after refusing transports that would send a
password in clear and transports whose library is not installed. Nothing here touches the
network."""

from __future__ import annotations

import math
from dataclasses import dataclass

from winrm import transport as winrm_transport
from winrm.protocol import Protocol

from bot.app.errors import ConfigError, InsecureTransport
from bot.winrm.credentials import Credentials
from policies.inventory import Host


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    """TCP connect (and TLS handshake) to the WinRM port."""
    read_s: float = 30.0
    """How long the client waits for any HTTP answer; must exceed `max_operation_s`, since a
    Receive may rightly wait that long on the server."""
    max_operation_s: int = 20
    """Longest a single Receive may wait on the server (WS-Management OperationTimeout)."""

    def __post_init__(self) -> None:
        if self.connect_s <= 0 or self.read_s <= 0 or self.max_operation_s < 1:
            raise ValueError("timeouts must be positive and max_operation_s at least 1")

    def receive_wait_s(self, remaining_s: float) -> int:
        """The OperationTimeout for the next Receive: within the deadline and the read timeout."""
        return max(1, min(self.max_operation_s, int(remaining_s), math.ceil(self.read_s) - 1))


def check_transport(host_name: str, host: Host) -> None:
    """Refuse, before any traffic, what would leak the password or cannot work."""
    clear_http = host.effective_scheme == "http"
    if host.transport in ("basic", "ssl") and clear_http and not host.lab:
        raise InsecureTransport(
            host_name,
            f"transport {host.transport!r} over plain http sends the password in clear: use ntlm, kerberos "
            "or credssp (WinRM encrypts those messages), or https (port 5986); only a lab host "
            "(lab = true) may use Basic over http",
        )
    if host.transport == "certificate" and clear_http:
        raise InsecureTransport(host_name, 'certificate authentication needs https (port 5986): set scheme = "https"')
    if host.transport == "kerberos" and not winrm_transport.HAVE_KERBEROS:
        raise ConfigError(
            f"hosts.{host_name}.transport = 'kerberos' needs Kerberos support: pip install 'pywinrm[kerberos]'"
        )
    if host.transport == "credssp" and not winrm_transport.HAVE_CREDSSP:
        raise ConfigError(
            f"hosts.{host_name}.transport = 'credssp' needs requests-credssp: pip install 'pywinrm[credssp]'"
        )
    if host.transport == "ntlm" and not winrm_transport.HAVE_NTLM:
        raise ConfigError(f"hosts.{host_name}.transport = 'ntlm' needs requests-ntlm: pip install requests-ntlm")


def build_protocol(
    host: Host,
    credentials: Credentials,
    timeouts: Timeouts,
    *,
    proxy: str | None = None,
    ca_trust_path: str | None = None,
) -> Protocol:
    """A fresh Protocol for one host call. Never share one between threads (pywinrm #277: NTLM
    message encryption state is per session)."""
    protocol = Protocol(
        endpoint=host.endpoint,
        transport=host.transport,
        username=credentials.username,
        password=credentials.password,
        cert_pem=credentials.cert_pem,
        cert_key_pem=credentials.cert_key_pem,
        server_cert_validation=host.server_cert_validation,
        read_timeout_sec=max(timeouts.max_operation_s + 1, math.ceil(timeouts.read_s)),
        operation_timeout_sec=timeouts.max_operation_s,
        message_encryption="auto",
        proxy=proxy,  # None: no proxy, whatever the environment says
        ca_trust_path=ca_trust_path,  # type: ignore[arg-type]  # None (handled): requests' own CA bundle
    )
    # requests takes (connect, read): a dead address fails in seconds, not after the read timeout.
    protocol.transport.read_timeout_sec = (timeouts.connect_s, timeouts.read_s)  # type: ignore[assignment]
    return protocol
