"""A simulated server's own network, as its warm-up requests meet it (docs/iis-behaviour.md):

- the host's addresses: loopback, IPv6 loopback and one documentation address (192.0.2.0/24,
  never routed) that bindings may name as their IP;
- HTTP.sys' IP listen list (`netsh http add iplisten`, the registry's `ListenOnlyList`): empty, it
  listens on every address; otherwise only on those listed ("0.0.0.0" every IPv4 one, "::" every
  IPv6 one), and a connection to any other address is refused;
- TLS for https bindings: a certificate per binding host name (an IIS 10 wildcard binding's names
  `*.example.com`), chosen by SNI, and the machine's own for a binding without one; every one is
  issued by the farm's CA, which the server trusts ("the server trusts its own chain").

Every request still travels over real sockets on 127.0.0.1 (nothing leaves loopback): the address
the request was sent to travels in the `LOCAL_ADDRESS_HEADER` header, and the simulated HTTP.sys
routes by it as the real one routes by the connection's local address.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import re
import socket
import ssl
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.app.results import WarmupAnswer

LOCAL_ADDRESS_HEADER = "X-Aspreset-Sim-Local-Address"
LOOPBACK = "127.0.0.1"
LAB_ADDRESS = "192.0.2.10"  # TEST-NET-1 (RFC 5737): a binding's specific IP; never leaves the machine
OFFLINE_PAGE = "app_offline.htm: this application is offline for maintenance"
ERROR_LINE = re.compile(r"HTTP Error \d{3}[^<\r\n]*")
HttpGet = Callable[[str, str, float], WarmupAnswer]  # (url to connect to, Host header, timeout) -> answer


@dataclass
class HostNetwork:
    addresses: list[str] = field(default_factory=lambda: [LOOPBACK, "::1", LAB_ADDRESS])
    ip_listen_list: list[str] = field(default_factory=list)  # HTTP.sys' ListenOnlyList; empty: every address

    def listens_on(self, address: str) -> bool:
        """Whether HTTP.sys accepts a connection to `address` (one of this host's)."""
        if address not in self.addresses:
            return False
        if not self.ip_listen_list:
            return True
        family_any = "::" if ":" in address else "0.0.0.0"
        return address in self.ip_listen_list or family_any in self.ip_listen_list

    def listen_address(self) -> str:
        """Get-ListenAddress: where a warm-up through an all-addresses binding connects: 127.0.0.1
        unless the listen list leaves it out, then ::1 if it is listed, else the first listed IPv4
        address, else the first listed one."""
        listed = self.ip_listen_list
        if not listed or LOOPBACK in listed or "0.0.0.0" in listed:
            return LOOPBACK
        if "::1" in listed or "::" in listed:
            return "::1"
        return next((a for a in listed if ":" not in a), listed[0])


# ---- certificates --------------------------------------------------------------------------------


@cache
def _authority() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The farm's CA, one per process."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aspreset simulated farm CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    return key, cert


def authority_pem() -> str:
    return _authority()[1].public_bytes(serialization.Encoding.PEM).decode("ascii")


@cache
def server_context(name: str) -> ssl.SSLContext:
    """A TLS server context whose certificate names `name` only (a DNS name or wildcard)."""
    ca_key, ca_cert = _authority()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        context.load_cert_chain(handle.name)
    return context


def tls_context(machine_name: str, binding_names: Callable[[], Sequence[str]]) -> ssl.SSLContext:
    """The https side of a host: SNI picks the certificate of the https binding whose host name
    (or wildcard) matches; no SNI, or a name no binding has, gets the machine's own certificate."""
    context = server_context(machine_name)

    def pick(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        wanted = (server_name or "").lower()
        for name in binding_names() if wanted else ():
            if name.lower() == wanted or (name.startswith("*.") and wanted.endswith(name[1:].lower())):
                sock.context = server_context(name)
                return

    context.sni_callback = pick
    return context


# ---- the host's own HTTP client (what the scripts' HttpWebRequest does) ----------------------------


def host_get(network: HostNetwork, real_port: Callable[[str, int], int | None]) -> HttpGet:
    """One GET as the scripts send it from the host itself: to one of its addresses, refused
    (ConnectFailure) where HTTP.sys does not listen; over TLS for https, with the Host header's name
    as SNI and validated against it (.NET Framework's HttpWebRequest does both), against the farm's
    CA; no redirect followed, a time bound, the Server header kept. `real_port(scheme, port)` is the
    loopback port that serves a binding's port (None: nothing listens there)."""

    def get(url: str, host_header: str, timeout_s: float) -> WarmupAnswer:
        start = time.monotonic()
        parts = urllib.parse.urlsplit(url)
        address = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        served = real_port(parts.scheme, port)
        if parts.scheme not in ("http", "https") or served is None or not network.listens_on(address):
            return WarmupAnswer(url=url, host_header=host_header, failure="ConnectFailure")
        failure = ""
        connection = http.client.HTTPConnection(LOOPBACK, served, timeout=timeout_s)
        try:
            if parts.scheme == "https":
                connection.sock = _tls_socket(served, host_header, timeout_s)
            path = parts.path or "/"
            connection.request("GET", path + (f"?{parts.query}" if parts.query else ""),
                               headers={"Host": host_header, LOCAL_ADDRESS_HEADER: address})
            response = connection.getresponse()
            body = response.read().decode("utf-8", errors="replace")
            error_line = ERROR_LINE.search(body)
            return WarmupAnswer(url=url, host_header=host_header, status=response.status,
                                server=response.getheader("Server") or "",
                                location=response.getheader("Location") or "",
                                ms=int((time.monotonic() - start) * 1000), offline_page=OFFLINE_PAGE in body,
                                error_line=error_line.group(0).strip()[:200] if error_line else "")
        except ssl.SSLCertVerificationError:
            failure = "TrustFailure"  # WebExceptionStatus: the certificate does not name the Host
        except ssl.SSLError:
            failure = "SecureChannelFailure"
        except TimeoutError:
            failure = "Timeout"
        except ConnectionRefusedError:
            failure = "ConnectFailure"
        except (OSError, http.client.HTTPException) as exc:
            failure = type(exc).__name__
        finally:
            connection.close()
        return WarmupAnswer(url=url, host_header=host_header, failure=failure,
                            ms=int((time.monotonic() - start) * 1000))

    return get


def _tls_socket(port: int, host_header: str, timeout_s: float) -> ssl.SSLSocket:
    name = host_name_of(host_header)
    context = ssl.create_default_context(cadata=authority_pem())
    raw = socket.create_connection((LOOPBACK, port), timeout=timeout_s)
    try:
        return context.wrap_socket(raw, server_hostname=name)  # an address: no SNI, checked against IP SANs
    except BaseException:
        raw.close()
        raise


def host_name_of(host_header: str) -> str:
    """The name in a Host header, without its port and an IPv6 literal's brackets."""
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")] if "]" in host_header else host_header.strip("[")
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
