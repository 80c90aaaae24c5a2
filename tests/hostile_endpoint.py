"""A misbehaving WS-Management endpoint for tests: a small HTTP/1.1 front on 127.0.0.1 that
passes each request to a simulated host's real endpoint (bot.sim.wsman, one upstream connection
per client connection, so NTLM's per-connection handshake still works) and misbehaves on request
with the answer: says nothing, drips it a few bytes at a time, stalls mid-body, resets the
connection mid-reply, or answers an HTML page or something that is not XML, as a proxy, a wrong
URL or a hung host would. It can also listen with TLS (a self-signed certificate made here), to
stand for an HTTPS listener.

Arm a misbehaviour with `misbehave(kind, actions=..., times=...)`; requests whose action is not
named pass through untouched. Every wait is bounded by the server's stop event, and a client that
hangs up ends its connection's thread at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import select
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.sim.loopback import LOOPBACK
from bot.sim.wsman_wire import ACTIONS

Misbehaviour = Literal["silent", "drip", "stall", "reset", "html", "html_500", "not_xml", "close"]

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Proxy Authentication Required</title></head>"
    b"<body><h1>407 Proxy Authentication Required</h1><p>Access to this site needs a login.</p></body></html>"
)
_ACTION = re.compile(rb"<a:Action[^>]*>([^<]+)</a:Action>")


@dataclass
class Armed:
    kind: Misbehaviour
    actions: frozenset[str] | None
    times: int | None

    def fires(self, action: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.actions is not None and action not in self.actions:
            return False
        if self.times is not None:
            self.times -= 1
        return True


class HostileEndpoint:
    """In front of `upstream_port` (a simulated host's WS-Management port) on its own port."""

    def __init__(
        self,
        upstream_port: int,
        *,
        tls: tuple[Path, Path] | None = None,
        drip_bytes: int = 3,
        drip_every_s: float = 0.05,
    ) -> None:
        self.upstream_port = upstream_port
        self.drip_bytes = drip_bytes
        self.drip_every_s = drip_every_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._armed: list[Armed] = []
        self.actions: list[str] = []  # every request's action, in order ("?" when unreadable)
        self.misbehaved: list[tuple[str, str]] = []  # (kind, action) each time one fired
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._listener = socket.create_server((LOOPBACK, 0))
        self._thread = threading.Thread(target=self._serve, name="hostile-wsman", daemon=True)
        self._connections: set[socket.socket] = set()
        self.hold_handshake = False  # with tls: accept TCP, then never answer the TLS handshake

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def misbehave(
        self, kind: Misbehaviour, *, actions: list[str] | None = None, times: int | None = None
    ) -> None:
        with self._lock:
            self._armed.append(Armed(kind, frozenset(actions) if actions else None, times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> HostileEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- serving ------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:  # stop() closes the listener under this loop: either call may then fail, and that ends it
                readable, _, _ = select.select([self._listener], [], [], 0.05)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except (OSError, ValueError):
                return
            threading.Thread(target=self._connection, args=(client,), name="hostile-conn", daemon=True).start()

    def _connection(self, raw: socket.socket) -> None:
        client: socket.socket = raw
        with self._lock:
            self._connections.add(raw)
        try:
            if self._context is not None and self.hold_handshake:
                self._hold(raw)
                return
            if self._context is not None:
                raw.settimeout(5)
                try:
                    client = self._context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # e.g. plain HTTP sent to the TLS port: close, as HTTP.sys does
                client.settimeout(None)
            with socket.create_connection((LOOPBACK, self.upstream_port), timeout=10) as upstream:
                upstream.settimeout(None)
                while not self._stop.is_set():
                    request = _read_message(client, self._stop)
                    if request is None:
                        return
                    head, body = request
                    action = _action(body)
                    with self._lock:
                        self.actions.append(action)
                        fired = next((a for a in self._armed if a.fires(action)), None)
                        if fired is not None:
                            self.misbehaved.append((fired.kind, action))
                    upstream.sendall(head + body)
                    answer = _read_message(upstream, self._stop)
                    if answer is None:
                        return
                    if fired is None:
                        client.sendall(answer[0] + answer[1])
                    elif not self._misbehave(fired.kind, client, raw, answer):
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(raw)
            with contextlib.suppress(OSError):
                client.close()

    def _misbehave(
        self, kind: Misbehaviour, client: socket.socket, raw: socket.socket, answer: tuple[bytes, bytes]
    ) -> bool:
        """Answer badly; True when the connection may go on."""
        head, body = answer
        if kind == "silent":
            self._hold(client)
            return False
        if kind == "drip":
            data = head + body
            for i in range(0, len(data), self.drip_bytes):
                if self._stop.wait(self.drip_every_s) or _hung_up(client):
                    return False
                client.sendall(data[i : i + self.drip_bytes])
            return True
        if kind == "stall":
            client.sendall(head + body[: len(body) // 2])
            self._hold(client)
            return False
        if kind == "reset":
            client.sendall(head + body[: len(body) // 2])
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
            return False
        if kind == "close":
            return False
        status, content_type, page = {
            "html": (b"200 OK", b"text/html; charset=utf-8", HTML_PAGE),
            "html_500": (b"502 Bad Gateway", b"text/html", HTML_PAGE.replace(b"Proxy Authentication Required",
                                                                          b"502 Bad Gateway")),
            "not_xml": (b"200 OK", b"text/plain", b"OK"),
        }[kind]
        client.sendall(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(page)).encode() + b"\r\n\r\n" + page
        )
        return True

    def _hold(self, client: socket.socket) -> None:
        """Say nothing until the client hangs up or the server stops."""
        while not self._stop.is_set() and not _hung_up(client, wait_s=0.05):
            pass


def _hung_up(sock: socket.socket, wait_s: float = 0.0) -> bool:
    readable, _, _ = select.select([sock], [], [], wait_s)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ssl.SSLError):
        return True


def _read_message(sock: socket.socket, stop: threading.Event) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message with Content-Length (as WinRM and pywinrm send them), or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        if stop.is_set():
            return None
        readable, _, _ = select.select([sock], [], [], 0.05)
        if not readable and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    head += b"\r\n\r\n"
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head, rest[:length]


def _action(body: bytes) -> str:
    found = _ACTION.search(body)
    if not found:
        return "?"  # empty (NTLM set-up) or encrypted
    uri = found.group(1).decode("ascii", "replace").strip()
    return ACTIONS.get(uri, uri.rsplit("/", 1)[-1])


def self_signed_certificate(directory: Path, name: str = "wsman.hostile.example") -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and 127.0.0.1), as an untrusted HTTPS listener has."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "wsman-cert.pem", directory / "wsman-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
