"""What went wrong with a WinRM call, in a Windows admin's words.

Every exception a host call can raise (requests, urllib3, ssl, pywinrm, a parser choking on an
HTML page) becomes one of the project's errors (bot.app.errors) with a sentence that names the
host, the endpoint, what the call was doing, and what to check or change on the host. Never an
exception class name, never a header or a password: the library exception is not chained (its
request object holds the Authorization header). Faults are matched by their WSManFault code,
never by the English reason, and the server's own text is quoted.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import structlog
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from bot.app.errors import (
    DOCTOR_HINT,
    AuthenticationFailed,
    ExecutionError,
    HostUnreachable,
    NameNotResolved,
    ProtocolError,
    TimedOut,
)
from bot.winrm.deadline import READ_ONLY_OPERATIONS, Deadline
from bot.winrm.fault_codes import ACCESS_DENIED, FAULT_HINTS, TRANSIENT_FAULTS
from bot.winrm.probes import certificate_names, speaks_tls
from bot.winrm.transport import NotWsman, Timeouts, describe_body
from policies.inventory import Host

log = structlog.get_logger("bot.winrm.faults")

FIRST_PHASE = "opening a shell"  # what the executor calls its first request
_DOCTOR = DOCTOR_HINT


@dataclass
class Failure(Exception):
    """A mapped error and whether repeating a read-only call may help."""

    error: ExecutionError
    transient: bool
    fault: int | None = None  # the WSManFault code the host answered with, if it did

    def __str__(self) -> str:
        return self.error.detail


@dataclass(frozen=True)
class CallContext:
    """What the mapping needs to know about the failed call."""

    host_name: str
    host: Host
    op: str
    deadline: Deadline
    timeouts: Timeouts
    username: str | None
    command_started: bool
    connections: int  # TCP connections the session made (0: the host never accepted one)

    @property
    def endpoint(self) -> str:
        return self.host.endpoint

    @property
    def maybe_ran(self) -> str:
        if self.command_started and self.op not in READ_ONLY_OPERATIONS:
            return " The operation may already have started on the host: run `aspreset status` before repeating it."
        return ""


def map_exception(ctx: CallContext, exc: BaseException) -> Failure:
    """The project's error for `exc`, raised during `ctx.deadline.phase`."""
    # A read or connect timeout capped by what was left of the deadline is the deadline too (it can
    # fire a moment before the deadline's own timer does).
    capped = isinstance(exc, requests.exceptions.Timeout) and ctx.deadline.remaining() <= 0.1
    if ctx.deadline.expired or capped:
        return Failure(deadline_passed(ctx), transient=False)
    # requests_ntlm raises PermissionError when the server answers the handshake with a bare 401
    if isinstance(exc, AuthenticationError | PermissionError):
        return Failure(AuthenticationFailed(ctx.host_name, _unauthorized(ctx)), transient=False)
    if isinstance(exc, NotWsman):
        return Failure(ProtocolError(ctx.host_name, _not_wsman(ctx, exc.status, exc.kind, exc.detail)), False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure(
            HostUnreachable(
                ctx.host_name,
                f"{ctx.endpoint} did not accept a connection within {_secs(ctx.timeouts.connect_s)} s: check the "
                f"address, that port {_port(ctx.host)} is open in the firewall, and that WinRM listens there "
                f"(`winrm enumerate winrm/config/listener`); {_DOCTOR.format(host=ctx.host_name)}",
            ),
            transient=True,
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure(_tls_failure(ctx, exc), transient=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Failure(
            TimedOut(
                ctx.host_name,
                f"{ctx.endpoint} accepted the connection but sent nothing for {_secs(ctx.timeouts.read_s)} s while "
                f"{ctx.deadline.phase}; the host may be overloaded.{ctx.maybe_ran}",
            ),
            transient=True,
        )
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError) or (
        isinstance(exc, requests.exceptions.RequestException)
        and any(isinstance(e, ConnectionError) for e in _chain(exc))
    ):
        return _connection_failure(ctx, exc)
    if isinstance(exc, WinRMOperationTimeoutError):
        return Failure(
            TimedOut(ctx.host_name, f"WinRM on {ctx.endpoint} timed out (OperationTimeout) while "
                     f"{ctx.deadline.phase}.{ctx.maybe_ran}"),
            transient=True,
        )
    if isinstance(exc, WSManFaultError):
        return _fault(ctx, exc)
    if isinstance(exc, WinRMTransportError):
        return _http_status(ctx, exc)
    if isinstance(exc, WinRMError):
        return Failure(
            ProtocolError(ctx.host_name, f"pywinrm refused the call while {ctx.deadline.phase}: {exc}"), False
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return Failure(
            ProtocolError(ctx.host_name, f"the HTTP request to {ctx.endpoint} failed while {ctx.deadline.phase}: "
                          f"{_first_reason(exc)}.{ctx.maybe_ran}"),
            transient=False,
        )
    log.warning("winrm.unreadable_answer", host=ctx.host_name, phase=ctx.deadline.phase, kind=type(exc).__name__)
    return Failure(
        ProtocolError(
            ctx.host_name,
            f"{ctx.endpoint} answered in a form that is not WS-Management as WinRM speaks it while "
            f"{ctx.deadline.phase}: is this a WinRM listener, and not a proxy or another web server on that "
            f"port?{ctx.maybe_ran}",
        ),
        transient=False,
    )


# ---- one kind each -------------------------------------------------------------------------------


def deadline_passed(ctx: CallContext) -> TimedOut:
    d = ctx.deadline
    if ctx.connections == 0:
        what = f"{ctx.endpoint} did not accept a connection"
    else:
        what = f"WinRM at {ctx.endpoint} did not finish answering"
    mutating = ctx.command_started and ctx.op not in READ_ONLY_OPERATIONS
    partly = " (the operation may have partly happened)" if mutating else ""
    kept = d.end - d.until  # the clean-up's share, reserved once a shell was open
    waited = min(d.elapsed(), d.seconds)
    cleanup = (f", keeping its last {_secs(kept)} s ([winrm] cleanup_budget_s) to terminate the command and "
               "delete the shell") if kept > 0 else ""
    return TimedOut(
        ctx.host_name,
        f"{what} while {d.phase}; gave up after {_secs(waited)} s of the {_secs(d.seconds)} s {ctx.op} deadline "
        f"([winrm] {d.setting or 'deadline'}){cleanup}. The host may be overloaded, a WMI call may hang, or "
        "something between here and it holds the connection open; check the host, then run "
        f"`aspreset status` before repeating{partly}.",
    )


def _unauthorized(ctx: CallContext) -> str:
    host, user = ctx.host, ctx.username or "(no user)"
    source = ""
    if host.password_env:
        source = f" (from ${host.password_env})"
    elif host.password_file:
        source = f" (from {host.password_file})"
    start = f"{ctx.endpoint} refused user {user!r} (HTTP 401)"
    doctor = _DOCTOR.format(host=ctx.host_name)
    auth = "`winrm get winrm/config/service/auth`"
    if host.transport in ("basic", "ssl") and not host.cert_pem:
        return (
            f"{start} over Basic authentication (transport {host.transport!r}). Check the password{source}; "
            "that it is a local account of the host (WinRM's Basic takes no domain accounts); that Basic is "
            f"enabled on the host ({auth} shows Basic = true); and that the account is an administrator there; "
            f"{doctor}"
        )
    if host.transport == "ntlm":
        return (
            f"{start} over NTLM (transport 'ntlm'). Check the password{source}; the user spelled DOMAIN\\user or "
            "user@domain (a local account as HOST\\user); that Negotiate is enabled on the host "
            f"({auth}); that the account is an administrator there, and for a local account that "
            f"LocalAccountTokenFilterPolicy = 1; {doctor}"
        )
    if host.transport == "kerberos":
        return (
            f"{start} over Kerberos (transport 'kerberos'). Check that this machine holds a ticket for the "
            "user (`klist`; `kinit user@REALM`); that the inventory address is the host's DNS name, not an IP, "
            "with an HTTP/<name> SPN (`setspn -L <host>`); that both clocks agree within 5 minutes (clock skew); "
            f"that Kerberos is enabled on the host ({auth}); {doctor}"
        )
    if host.transport == "credssp":
        return (
            f"{start} over CredSSP (transport 'credssp'). Check the password{source}; that CredSSP is enabled "
            "on the host (`Enable-WSManCredSSP -Role Server`); that the account is an administrator there; "
            f"{doctor}"
        )
    return (
        f"{ctx.endpoint} refused the client certificate {host.cert_pem} (HTTP 401, transport "
        f"{host.transport!r}). Check that Certificate authentication is enabled ({auth}), that the "
        "certificate is mapped to an account (`winrm enumerate winrm/config/service/certmapping`) and not "
        f"expired; {doctor}"
    )


def _not_wsman(ctx: CallContext, status: int, kind: str, detail: str) -> str:
    where = f"{ctx.endpoint} answered HTTP {status}"
    if kind == "html":
        titled = f" ({detail!r})" if detail else ""
        return (
            f"{where} with a web page{titled} instead of WS-Management while {ctx.deadline.phase}: a proxy or "
            f"another web server is answering, or the URL is wrong (WinRM listens on port 5985 for http and "
            f"5986 for https, path /wsman). Check the host's address, port and path in the inventory, and that "
            f"no proxy sits in between.{ctx.maybe_ran}"
        )
    if kind == "empty":
        said = "with an empty body"
    elif kind == "not_soap":
        said = f"with XML that is not a SOAP envelope (<{detail}>)"
    else:
        said = f"with something that is not XML ({detail!r}...)" if detail else "with something that is not XML"
    return (
        f"{where} {said} while {ctx.deadline.phase}: that is not WinRM. Check the address, port and path "
        f"(/wsman) in the inventory.{ctx.maybe_ran}"
    )


def _http_status(ctx: CallContext, exc: WinRMTransportError) -> Failure:
    body = (exc.response_text or "").encode("utf-8", "replace")
    problem = describe_body(body)
    if problem is not None and problem[0] != "empty":
        return Failure(ProtocolError(ctx.host_name, _not_wsman(ctx, exc.code, *problem)), exc.code >= 500)
    hint = {
        404: "nothing is at that path: WinRM listens on /wsman",
        405: "that server does not take POST: is it WinRM?",
        413: "the request was larger than WinRM's MaxEnvelopeSizekb allows",
        503: "the service is unavailable: is the WinRM service running (`Get-Service WinRM`)?",
    }.get(exc.code, "without a WS-Management fault: is this a WinRM listener (path /wsman) and not a proxy?")
    return Failure(
        ProtocolError(
            ctx.host_name, f"{ctx.endpoint} answered HTTP {exc.code} while {ctx.deadline.phase}: {hint}.{ctx.maybe_ran}"
        ),
        transient=exc.code >= 500,
    )


def _fault(ctx: CallContext, exc: WSManFaultError) -> Failure:
    code = exc.wsman_fault_code if exc.wsman_fault_code is not None else exc.wmierror_code
    shown = f"{code} (0x{code:08X})" if code is not None else "without a code"
    subcode = f", {exc.fault_subcode}" if exc.fault_subcode else ""
    hint = FAULT_HINTS.get(code or -1, f"look it up with `winrm helpmsg 0x{code or 0:08X}` on the host")
    reason = " ".join((exc.reason or "").split())[:300].rstrip(". ")
    error_type = AuthenticationFailed if code == ACCESS_DENIED else ProtocolError
    return Failure(
        error_type(
            ctx.host_name,
            f"WinRM answered fault {shown}{subcode} while {ctx.deadline.phase}: \"{reason}.\" {hint}.{ctx.maybe_ran}",
        ),
        transient=code in TRANSIENT_FAULTS,
        fault=code,
    )


def _tls_failure(ctx: CallContext, exc: BaseException) -> ExecutionError:
    host, port = ctx.host, _port(ctx.host)
    chain = _chain(exc)
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    probe_s = min(ctx.timeouts.connect_s, max(0.5, ctx.deadline.remaining()))
    if verify is not None:
        names = certificate_names(host.address, port, probe_s)
        why = (verify.verify_message or "certificate verify failed").rstrip(".")
        if names is None:
            shown = "its certificate"
        else:
            alt = f", also valid for {', '.join(names.dns_names)}" if names.dns_names else ""
            issuer = "self-signed" if names.self_signed else f"issued by {names.issuer!r}"
            shown = f"its certificate for {names.subject!r}{alt} ({issuer})"
        return ProtocolError(
            ctx.host_name,
            f"{ctx.endpoint} presented {shown}, which this machine does not trust: {why}. Either the inventory "
            "address must be a name on the certificate, or trust it: put the issuing CA's certificate (the "
            "certificate itself when self-signed) in a PEM file and set [winrm] ca_trust_path (or "
            "REQUESTS_CA_BUNDLE) to it. Setting server_cert_validation = \"ignore\" is for labs only.",
        )
    if ctx.host.effective_scheme == "https" and speaks_tls(host.address, port, probe_s) is False:
        return ProtocolError(
            ctx.host_name,
            f"{ctx.endpoint} does not speak TLS: port {port} is a plain-HTTP listener (WinRM's http port is "
            "5985, https 5986). Set scheme = \"http\" for this port (with transport ntlm or kerberos, which "
            "encrypt the messages), or use the host's HTTPS listener on 5986.",
        )
    return ProtocolError(
        ctx.host_name,
        f"the TLS handshake with {ctx.endpoint} failed ({_first_reason(exc)}): check the host's WinRM HTTPS "
        f"listener and its certificate (`winrm enumerate winrm/config/listener`); {_DOCTOR.format(host=ctx.host_name)}",
    )


def _connection_failure(ctx: CallContext, exc: BaseException) -> Failure:
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    port = _port(ctx.host)
    doctor = _DOCTOR.format(host=ctx.host_name)
    if names & {"NameResolutionError", "gaierror"}:
        return Failure(
            NameNotResolved(
                ctx.host_name,
                f"the name {ctx.host.address!r} does not resolve (DNS): check the host's address in the "
                "inventory, or this machine's DNS servers and search domains; " + doctor,
            ),
            transient=True,
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Failure(
            HostUnreachable(
                ctx.host_name,
                f"could not connect to {ctx.endpoint} (connection refused: nothing listens on port {port}): "
                f"check the port (WinRM: 5985 http, 5986 https), that the WinRM service runs and has a "
                f"listener (`winrm quickconfig`), and the firewall; {doctor}",
            ),
            transient=True,
        )
    if names & {"NewConnectionError", "ConnectTimeoutError"}:
        return Failure(
            HostUnreachable(
                ctx.host_name,
                f"could not connect to {ctx.endpoint}: check the address, port {port} and the firewall; {doctor}",
            ),
            transient=True,
        )
    # A TLS listener spoken to in plain HTTP drops the very first request; only then is it worth a look.
    if ctx.host.effective_scheme == "http" and ctx.connections > 0 and ctx.deadline.phase == FIRST_PHASE:
        probe_s = min(ctx.timeouts.connect_s, 2.0, max(0.5, ctx.deadline.remaining()))
        if speaks_tls(ctx.host.address, port, probe_s):
            return Failure(
                ProtocolError(
                    ctx.host_name,
                    f"{ctx.endpoint} closed the connection: port {port} is an HTTPS (TLS) listener and the "
                    "inventory says http (WinRM's http port is 5985, https 5986). Set scheme = \"https\" for this "
                    "port, or use port 5985 for http.",
                ),
                transient=False,
            )
    how = "reset the connection" if any(isinstance(e, ConnectionResetError) for e in chain) else "closed the connection"
    return Failure(
        HostUnreachable(
            ctx.host_name,
            f"{ctx.endpoint} {how} while {ctx.deadline.phase}, before WinRM answered (the WinRM service "
            f"restarting, or a proxy, load balancer or firewall dropping it).{ctx.maybe_ran}",
        ),
        transient=True,
    )


# ---- bits ----------------------------------------------------------------------------------------


def _port(host: Host) -> int:
    return urlsplit(host.endpoint).port or (5986 if host.effective_scheme == "https" else 5985)


def _secs(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:.0f}"


def _first_reason(exc: BaseException) -> str:
    """The innermost readable reason (an OS or TLS message), without class names."""
    for error in reversed(_chain(exc)):
        if isinstance(error, OSError) and error.strerror:
            return str(error.strerror)
        if isinstance(error, ssl.SSLError) and error.reason:
            return str(error.reason).replace("_", " ").lower()
    return "no reason given"


def _chain(exc: BaseException) -> Sequence[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nxt = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        if nxt is None and len(current.args) > 1 and isinstance(current.args[1], BaseException):
            nxt = current.args[1]
        reason = getattr(current, "reason", None)
        wrapped = reason if isinstance(reason, BaseException) else None
        current = nxt or current.__cause__ or current.__context__ or wrapped
    return seen
