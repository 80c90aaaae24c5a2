"""A host's WinRM session: a pywinrm `Protocol` whose HTTP sockets a deadline can cut, and whose
answers are checked to be SOAP before pywinrm parses them. Also the checks made before any
traffic: no transport that would send a password in clear, no transport whose library is missing.

How the deadline reaches the sockets, through public APIs only (docs/winrm.md lists them):
`open_session` gives pywinrm's `Protocol` a `WatchedTransport`, pywinrm's `Transport` made through its
constructor, which mounts `WatchedAdapter` (requests' `HTTPAdapter`) on the requests session before
its first request. That adapter's plain-http connections register their socket with the session's
`SocketWatch` (bot.winrm.deadline) in `connect()`, and its https connections through the
`ssl.SSLContext` it hands urllib3, whose `wrap_socket` sees the socket before the TLS handshake.
"""

from __future__ import annotations

import math
import re
import ssl
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from winrm import transport as winrm_transport
from winrm.protocol import Protocol

from bot.app.errors import ConfigError, InsecureTransport
from bot.winrm.credentials import Credentials
from bot.winrm.deadline import Deadline, SocketWatch
from policies.inventory import Host


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    """TCP connect (and TLS handshake) to the WinRM port; never more than what is left of the deadline."""
    read_s: float = 30.0
    """Longest silence between two reads; never more than what is left of the deadline. Must exceed
    `max_operation_s`, since a Receive may rightly wait that long on the server."""
    max_operation_s: int = 20
    """Longest a single Receive may wait on the server (WS-Management OperationTimeout)."""

    def __post_init__(self) -> None:
        if self.connect_s <= 0 or self.read_s <= 0 or self.max_operation_s < 1:
            raise ValueError("timeouts must be positive and max_operation_s at least 1")

    def receive_wait_s(self, remaining_s: float) -> int:
        """The OperationTimeout for the next Receive: within the deadline and the read timeout."""
        return max(1, min(self.max_operation_s, int(remaining_s) - 1, math.ceil(self.read_s) - 1))


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
            f"hosts.{host_name}.transport = 'kerberos' needs Kerberos support in aspreset's environment: "
            "`.venv/bin/pip install 'pywinrm[kerberos]>=0.5,<0.6'`, after the system's Kerberos headers "
            "(docs/setup.md, section 2)"
        )
    if host.transport == "credssp" and not winrm_transport.HAVE_CREDSSP:
        raise ConfigError(
            f"hosts.{host_name}.transport = 'credssp' needs requests-credssp in aspreset's environment: "
            "`.venv/bin/pip install 'pywinrm[credssp]>=0.5,<0.6'` (docs/setup.md, section 2)"
        )
    if host.transport == "ntlm" and not winrm_transport.HAVE_NTLM:
        raise ConfigError(f"hosts.{host_name}.transport = 'ntlm' needs requests-ntlm: pip install requests-ntlm")


# ---- answers that are not WS-Management ----------------------------------------------------------


class NotWsman(Exception):
    """An HTTP answer that is not a SOAP envelope: `kind` is empty, html, not_xml or not_soap."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(f"HTTP {status}: {kind}")
        self.status = status
        self.kind = kind
        self.detail = detail  # the page title or the first printable characters, never headers


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def describe_body(body: bytes) -> tuple[str, str] | None:
    """(kind, detail) when `body` is not a SOAP envelope, else None."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "empty", ""
    lowered = head[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
        title = _TITLE.search(head[:8192])
        text = title.group(1) if title else b""
        return "html", _printable(text)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "not_xml", _printable(head[:60])
    if not root.tag.endswith("}Envelope"):
        return "not_soap", root.tag.rpartition("}")[2][:60]
    return None


def _printable(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:80]


# ---- sockets a deadline can cut ------------------------------------------------------------------


class _WatchedHTTPConnection(HTTPConnection):
    """urllib3's plain-http connection, registering its socket with the host's watch once connected
    (a connect itself is bounded by the connect timeout, never more than what is left)."""

    def __init__(self, *args: Any, watch: SocketWatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = watch

    def connect(self) -> None:
        super().connect()
        if self.sock is not None:
            self.watch.add(self.sock, new_connection=True)


def _watched_pool(watch: SocketWatch) -> type[HTTPConnectionPool]:
    """A plain-http pool class whose connections register with `watch` (urllib3 hands a pool's extra
    keyword arguments to each connection it makes)."""

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = _WatchedHTTPConnection

        def __init__(self, host: str, port: int | None = None, **kwargs: Any) -> None:
            super().__init__(host, port, watch=watch, **kwargs)

    return WatchedHTTPPool


class _WatchedSSLContext(ssl.SSLContext):
    """The TLS context of a host's https connections: the socket is registered before the handshake,
    so the deadline can cut a handshake that never ends, and the TLS socket after it."""

    watch: SocketWatch

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        # Wrapping detaches `sock`; a duplicate descriptor lets the deadline shut the connection down
        # during the handshake. It is closed as soon as the handshake ends.
        handle = sock.dup()
        self.watch.add(handle, new_connection=True)
        try:
            tls = super().wrap_socket(sock, *args, **kwargs)
        finally:
            handle.close()
        self.watch.add(tls)
        return tls


def _watched_context(watch: SocketWatch, *, verify: bool) -> _WatchedSSLContext:
    context = _WatchedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # as urllib3's own default context
    if not verify:  # server_cert_validation = "ignore" (lab hosts): urllib3 then asks for CERT_NONE
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.watch = watch
    return context


class WatchedAdapter(HTTPAdapter):
    """requests' own adapter whose connections register every socket with the host's SocketWatch:
    plain http through its pools' connection class, https through the TLS context it hands urllib3
    (both direct and through an http proxy). The trust settings stay requests' (CA bundle or
    `ca_trust_path`, client certificate), loaded into that context by urllib3."""

    def __init__(self, watch: SocketWatch) -> None:
        self.watch = watch
        self._http_pool = _watched_pool(watch)
        self._contexts = {True: _watched_context(watch, verify=True), False: _watched_context(watch, verify=False)}
        super().__init__(pool_connections=1, pool_maxsize=1)  # one session, one thread at a time

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme, "http": self._http_pool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # a SOCKS manager's pools are its own
            manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "http": self._http_pool}
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.watch.requests += 1  # one session is used by one thread at a time
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") == "https":
            pool_kwargs["ssl_context"] = self._contexts[verify is not False]
        return host_params, pool_kwargs


class WatchedTransport(winrm_transport.Transport):
    """pywinrm's Transport with the watched adapter mounted on its requests session before the first
    request (the NTLM handshake included), and the check that a 200 is SOAP."""

    def __init__(self, *, watch: SocketWatch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watch = watch

    def build_session(self) -> requests.Session:
        session = super().build_session()
        self._watch(session)  # transports without message encryption: before their first message
        return session

    def setup_encryption(self, session: requests.Session) -> None:
        self._watch(session)  # the NTLM (or Kerberos, CredSSP) handshake happens in here
        super().setup_encryption(session)

    def _watch(self, session: requests.Session) -> None:
        if not isinstance(session.get_adapter("https://"), WatchedAdapter):
            adapter = WatchedAdapter(self.watch)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # pywinrm has merged the environment's proxy settings into session.proxies once; left on,
            # requests would read every proxy variable again on each request.
            session.trust_env = False

    def send_message(self, message: str | bytes) -> bytes:
        body = super().send_message(message)
        problem = describe_body(body)
        if problem is not None:
            raise NotWsman(200, *problem)
        return body


# ---- one host's session --------------------------------------------------------------------------


@dataclass
class HostSession:
    """A Protocol for one host with the watch over its sockets. Never shared between threads
    (pywinrm #277: NTLM message encryption state is per session); a session whose sockets a
    deadline cut is closed, never reused."""

    host_name: str
    host: Host
    protocol: Protocol
    timeouts: Timeouts
    watch: SocketWatch = field(default_factory=SocketWatch)
    reused: bool = False  # set by bot.winrm.sessions: it served an earlier operation
    kept_shell: str | None = None  # a remote shell kept open with it for the next operation

    def bind(self, deadline: Deadline) -> None:
        """Per-request timeouts within what is left of the deadline (requests takes (connect, read))."""
        left = max(0.05, deadline.remaining())
        self.protocol.transport.read_timeout_sec = (  # type: ignore[assignment]
            min(self.timeouts.connect_s, left),
            min(self.timeouts.read_s, left),
        )

    def restart_http(self) -> None:
        """Drop the HTTP session (its sockets were cut): the next request connects and
        authenticates afresh, with new message encryption keys."""
        self.close()
        self.protocol.transport.encryption = None
        self.watch.reset()

    def close(self) -> None:
        try:
            self.protocol.transport.close_session()
        except Exception:  # closing is best effort; the sockets may already be gone
            self.protocol.transport.session = None


def open_session(
    host_name: str,
    host: Host,
    credentials: Credentials,
    timeouts: Timeouts,
    *,
    proxy: str | None = None,
    ca_trust_path: str | None = None,
) -> HostSession:
    """A fresh session for one host. Nothing touches the network until its first request."""
    settings: dict[str, Any] = {
        "endpoint": host.endpoint,
        "username": credentials.username,
        "password": credentials.password,
        "cert_pem": credentials.cert_pem,
        "cert_key_pem": credentials.cert_key_pem,
        "server_cert_validation": host.server_cert_validation,
        "message_encryption": "auto",
        "proxy": proxy,  # None: no proxy, whatever the environment says
        "ca_trust_path": ca_trust_path,  # None (handled): requests' own CA bundle
    }
    protocol = Protocol(
        transport=host.transport,
        read_timeout_sec=max(timeouts.max_operation_s + 1, math.ceil(timeouts.read_s)),
        operation_timeout_sec=timeouts.max_operation_s,
        **settings,
    )
    watch = SocketWatch()
    # Protocol's own Transport replaced by one made through the same public constructor, with the
    # same settings (Protocol passes service "HTTP" and its checked read timeout).
    protocol.transport = WatchedTransport(
        watch=watch, auth_method=host.transport, service="HTTP", read_timeout_sec=protocol.read_timeout_sec,
        **settings,
    )
    return HostSession(host_name, host, protocol, timeouts, watch)
