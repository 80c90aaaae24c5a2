"""Small look-ups made only after a call failed, so the message can say what is really there: the
name on a certificate this machine does not trust, and whether a port speaks TLS or plain HTTP.
Each is one short connection to the host's own WinRM port, bounded by a timeout; a probe that
fails returns None and the message simply says less."""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertificateNames:
    subject: str  # the CN, or the whole subject when it has none
    dns_names: tuple[str, ...]
    issuer: str
    self_signed: bool


def certificate_names(address: str, port: int, timeout_s: float) -> CertificateNames | None:
    """The names on the certificate the TLS listener presents (read without verifying it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((address, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=address) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    names: tuple[str, ...] = ()
    with contextlib.suppress(x509.ExtensionNotFound):
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(alt.get_values_for_type(x509.DNSName)) + tuple(
            str(ip) for ip in alt.get_values_for_type(x509.IPAddress)
        )
    return CertificateNames(
        subject=_common_name(cert.subject),
        dns_names=names,
        issuer=_common_name(cert.issuer),
        self_signed=cert.subject == cert.issuer,
    )


def _common_name(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if found:
        value = found[0].value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return name.rfc4514_string() or "(no name)"


def speaks_tls(address: str, port: int, timeout_s: float) -> bool | None:
    """True when a TLS handshake succeeds on the port, False when it does not, None when the port
    cannot even be reached."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((address, port), timeout=timeout_s)
    except OSError:
        return None
    with raw:
        try:
            with context.wrap_socket(raw, server_hostname=address):
                return True
        except (OSError, ValueError):
            return False
