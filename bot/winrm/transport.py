"""A host's WinRM session: a pywinrm `Protocol` whose HTTP sockets a deadline can cut, and whose
answers are checked to be SOAP before pywinrm parses them. Also the checks made before any
traffic: no transport that would send a password in clear, no transport whose library is missing.

How the deadline reaches the sockets: pywinrm builds its `requests.Session` lazily and sends
every HTTP request through `Transport._send_message_request` (the NTLM set-up through
`setup_encryption`); `WatchedTransport` mounts an adapter there first whose connections register
each socket they open with the session's `SocketWatch` (bot.winrm.deadline): `LeanAdapter`, one
http.client connection (bot.winrm.lean_http), for plain http with NTLM or Basic and no proxy, else
`WatchedAdapter`, requests' own over urllib3.
"""

from __future__ import annotations

import functools
import math
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from winrm import transport as winrm_transport
from winrm.encryption import Encryption
from winrm.exceptions import InvalidCredentialsError
from winrm.protocol import Protocol

from bot.app.errors import ConfigError, InsecureTransport
from bot.winrm.credentials import Credentials
from bot.winrm.deadline import Deadline, SocketWatch
from bot.winrm.lean_http import LeanAdapter
from bot.winrm.negotiate import NegotiateAuth
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
            f"hosts.{host_name}.transport = 'kerberos' needs Kerberos support: pip install 'pywinrm[kerberos]'"
        )
    if host.transport == "credssp" and not winrm_transport.HAVE_CREDSSP:
        raise ConfigError(
            f"hosts.{host_name}.transport = 'credssp' needs requests-credssp: pip install 'pywinrm[credssp]'"
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
    watch: SocketWatch | None = None

    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        if self.watch is not None:
            self.watch.add(sock, new_connection=True)
        return sock


class _WatchedHTTPSConnection(HTTPSConnection):
    watch: SocketWatch | None = None
    _handshake_handle: socket.socket | None = None

    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        if self.watch is not None:
            # Wrapping in TLS detaches `sock`; a duplicate descriptor lets the deadline cut the
            # connection during the handshake too. It is closed as soon as the handshake ends.
            self._handshake_handle = sock.dup()
            self.watch.add(self._handshake_handle, new_connection=True)
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        finally:
            if self._handshake_handle is not None:
                self._handshake_handle.close()
                self._handshake_handle = None
        if self.watch is not None and self.sock is not None:
            self.watch.add(self.sock)  # the TLS socket took over the plain one's descriptor


class _Watching:
    """A pool whose every new connection registers its sockets with the host's SocketWatch."""

    def __init__(self, *args: Any, watch: SocketWatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watch = watch

    def _new_conn(self) -> Any:
        conn: Any = super()._new_conn()  # type: ignore[misc]  # a mixin: the pool class comes after it
        conn.watch = self._watch
        return conn


class _WatchedHTTPPool(_Watching, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_Watching, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose pools make watched connections (direct and through a proxy)."""

    def __init__(self, watch: SocketWatch) -> None:
        self.watch = watch
        super().__init__()

    def _pools(self) -> dict[str, Any]:
        return {
            "http": functools.partial(_WatchedHTTPPool, watch=self.watch),
            "https": functools.partial(_WatchedHTTPSPool, watch=self.watch),
        }

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools()
        return manager


# Endpoints whose NTLM takes AUTHENTICATE only on an empty POST (learnt once, for the process).
_AUTHENTICATE_ALONE: set[str] = set()


class WatchedTransport(winrm_transport.Transport):
    """pywinrm's Transport, plus the watched adapter, the check that a 200 is SOAP, and NTLM with
    message encryption set up in two requests (bot.winrm.negotiate) instead of pywinrm's four."""

    watch: SocketWatch

    def build_session(self) -> requests.Session:
        built = self.session is None
        session = super().build_session()
        if built:
            # pywinrm has merged the environment's proxy settings into session.proxies once; left
            # on, requests would read every proxy variable again on each request (about 1 ms of a
            # host's operation, which a 50-host wave pays fifty times over on one interpreter).
            session.trust_env = False
        return session

    _authenticate_with_first = False  # the next message carries AUTHENTICATE (bot.winrm.negotiate)

    def setup_encryption(self, session: requests.Session) -> None:
        if self.auth_method != "ntlm":
            super().setup_encryption(session)
            return
        auth = NegotiateAuth(self.username, self.password)
        session.auth = auth
        self._watch_sockets(session)
        auth.start(session, self.endpoint, lambda request: session.send(request, timeout=self.read_timeout_sec))
        self.encryption = Encryption(session, self.auth_method)
        if self.endpoint in _AUTHENTICATE_ALONE:  # pywinrm's way: AUTHENTICATE on an empty POST
            self._send_message_request(session, session.prepare_request(requests.Request("POST", self.endpoint)))
        else:
            self._authenticate_with_first = True

    def _send_message_request(
        self, session: requests.Session, prepared_request: requests.PreparedRequest
    ) -> requests.Response:
        self._watch_sockets(session)
        return super()._send_message_request(session, prepared_request)

    def _watch_sockets(self, session: requests.Session) -> None:
        if not isinstance(session.get_adapter(self.endpoint), WatchedAdapter | LeanAdapter):
            if self._lean():  # plain http only: never mounted where TLS is expected
                session.mount("http://", LeanAdapter(self.watch))
                return
            adapter = WatchedAdapter(self.watch)
            session.mount("http://", adapter)
            session.mount("https://", adapter)

    def _lean(self) -> bool:
        """Plain http, no proxy, an auth that only sets headers: one http.client connection will do
        (bot.winrm.lean_http), for less CPU per request."""
        return (self.endpoint.lower().startswith("http://") and self.proxy is None
                and self.auth_method in ("ntlm", "basic", "plaintext"))

    def send_message(self, message: str | bytes) -> bytes:
        self.build_session()  # the handshake, if this session has none yet, before the message
        first, self._authenticate_with_first = self._authenticate_with_first, False
        try:
            body = super().send_message(message)
        except InvalidCredentialsError:
            if not first:
                raise
            # Refused with AUTHENTICATE riding on it: a wrong password, or a server that completes NTLM
            # only on an empty body (OMI does). Once more the way pywinrm does it; nothing ran on the
            # host. If that works, later sessions to this endpoint go that way at once.
            self.close_session()
            self.encryption = None
            _AUTHENTICATE_ALONE.add(self.endpoint)
            try:
                body = super().send_message(message)
            except Exception:
                _AUTHENTICATE_ALONE.discard(self.endpoint)  # the password (or the network), not the server
                raise
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
    # Protocol builds its own Transport; this adds the watch without copying its constructor.
    protocol.transport.__class__ = WatchedTransport
    session = HostSession(host_name, host, protocol, timeouts)
    protocol.transport.watch = session.watch  # type: ignore[attr-defined]
    return session
