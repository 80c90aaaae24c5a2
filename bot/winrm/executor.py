"""The Executor over pywinrm: one shell and one command per host per operation.

Per host call: Create a shell (codepage 65001, no profile), run the fixed bootstrap command, send
the operation's script on stdin (`bot.winrm.scripts`), Receive until the command is Done or the
product's own deadline passes (pywinrm's `get_command_output` would retry Receive timeouts
forever), Signal terminate only if it did not finish, and always Delete the shell. That is five
HTTP requests for an operation that finishes within one Receive. The session (TCP connection and,
for NTLM, its handshake) is leased from `bot.winrm.sessions` and reused by the next operation on the
same host.

Errors are the project's own (`bot.app.errors`), each saying what to check, never carrying a secret,
and raised without chaining the library exception (whose request object holds the
Authorization header). Read-only operations (status, discover) are retried once on a transient
error; appdomain, apppool and worker never are.

Results: a script's `ok=false` answer is a result, not an exception (it carries the state before
and after); `failure_of()` turns it into `ScriptFailed` for callers that want one. A script that
exits non-zero raises `ScriptFailed`; stdout that is not exactly one JSON object of the
operation's model raises `ProtocolError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import requests
import structlog
from pydantic import ValidationError
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from bot.app.errors import (
    AuthenticationFailed,
    ExecutionError,
    HostUnreachable,
    ProtocolError,
    ScriptFailed,
    TimedOut,
)
from bot.app.results import (
    RESULT_MODELS,
    DiscoverResult,
    OperationParams,
    OperationResult,
    RestartResult,
    StatusResult,
)
from bot.winrm.credentials import Credentials, resolve_credentials
from bot.winrm.scripts import bootstrap_command, stdin_payload
from bot.winrm.sessions import Lease, SessionCache, session_key
from bot.winrm.transport import Timeouts, build_protocol, check_transport
from policies.inventory import Host

READ_ONLY_OPERATIONS = frozenset({"status", "discover"})

# WSManFault codes (HRESULTs as unsigned ints): matched by code, never by the English reason.
FAULT_HINTS: dict[int, str] = {
    0x80070005: "access denied: the user needs to be in the host's Administrators group (or Remote "
    "Management Users plus rights on root\\WebAdministration); for a local account set "
    "LocalAccountTokenFilterPolicy=1 (UAC remote token filtering)",
    0x803381A6: "the user's WinRM quota is used up (MaxConcurrentOperationsPerUser / MaxShellsPerUser): "
    "wait for other sessions to end, or raise the quota in WinRM's configuration",
    0x8033805B: "the remote shell disappeared (the WinRM service restarted or the shell's idle timeout "
    "passed): check the host, then run the status operation before repeating",
    0x80338029: "WinRM timed out answering (OperationTimeout)",
    0x80338012: "WinRM cannot reach the destination named in the request",
    0x8033809D: "the shell or memory quota (MaxMemoryPerShellMB / MaxProcessesPerShell) was exceeded",
}

log = structlog.get_logger("bot.winrm.executor")


class HostCall(NamedTuple):
    host_name: str
    host: Host
    params: OperationParams


class _Failure(Exception):
    """Internal: a mapped error and whether repeating a read-only call may help."""

    def __init__(self, error: ExecutionError, transient: bool) -> None:
        super().__init__(error.detail)
        self.error = error
        self.transient = transient


class WinRMExecutor:
    """Runs operations on IIS hosts over WinRM.

    `deadline_s` bounds each host call (default: the operation's own `timeout_s` plus `grace_s`);
    when it passes, the command is terminated and the shell deleted, and TimedOut is raised.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        max_parallel: int = 8,
        timeouts: Timeouts | None = None,
        grace_s: float = 30.0,
        deadline_s: float | None = None,
        proxy: str | None = None,
        ca_trust_path: str | None = None,
        sessions: SessionCache | None = None,
        keep_shells: bool = False,
    ) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self._env = os.environ if env is None else env
        self.max_parallel = max_parallel
        self.timeouts = timeouts or Timeouts()
        self.grace_s = grace_s
        self.deadline_s = deadline_s
        self.proxy = proxy
        self.ca_trust_path = ca_trust_path or self._env.get("REQUESTS_CA_BUNDLE") or None
        self.sessions = sessions or SessionCache()  # one session per host, reused (bot.winrm.sessions)
        self.keep_shells = keep_shells  # keep the remote shell with the session: Command, Send, Receive per op

    # ---- public -------------------------------------------------------------------------------

    def prepare(self, host_name: str, host: Host) -> Credentials:
        """Everything that can be checked without traffic: the transport is not insecure and its
        library is installed, the credentials are where the inventory says. Raises
        InsecureTransport or ConfigError."""
        check_transport(host_name, host)
        return resolve_credentials(host_name, host, self._env)

    def run(self, host_name: str, host: Host, params: OperationParams) -> OperationResult:
        credentials = self.prepare(host_name, host)
        return self._run_prepared(host_name, host, credentials, params)

    def connect(self, host_name: str, host: Host) -> None:
        """Open the host's session ahead of its operation (for NTLM the handshake; with kept shells,
        its shell) and keep it in the cache. Nothing runs on the host; any problem is left for the
        operation itself to meet and report."""
        try:
            credentials = self.prepare(host_name, host)
            lease = self.sessions.lease(
                session_key(host_name, host, credentials),
                lambda: build_protocol(host, credentials, self.timeouts, proxy=self.proxy,
                                       ca_trust_path=self.ca_trust_path),
            )
        except Exception:
            return
        try:
            lease.protocol.transport.build_session()
            if self.keep_shells and lease.shell_id is None:
                lease.shell_id = lease.protocol.open_shell(codepage=65001, noprofile=True)
        except Exception:
            lease.discard()
            return
        lease.release()

    def run_many(
        self, calls: Iterable[HostCall | tuple[str, Host, OperationParams]]
    ) -> list[OperationResult | ExecutionError]:
        """Run each call on its host in parallel (at most `max_parallel` at once), results in the
        order of `calls`. Every host is prepared first: a ConfigError or InsecureTransport for any
        of them is raised before any host is contacted."""
        prepared = [(HostCall(*call), self.prepare(call[0], call[1])) for call in calls]
        if not prepared:
            return []

        def one(item: tuple[HostCall, Credentials]) -> OperationResult | ExecutionError:
            call, credentials = item
            try:
                return self._run_prepared(call.host_name, call.host, credentials, call.params)
            except ExecutionError as error:
                return error

        if len(prepared) == 1:  # the rollout calls one host at a time on its own bounded threads
            return [one(prepared[0])]
        workers = min(self.max_parallel, len(prepared))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="winrm") as pool:
            return list(pool.map(one, prepared))

    # ---- one host -----------------------------------------------------------------------------

    def _run_prepared(
        self, host_name: str, host: Host, credentials: Credentials, params: OperationParams
    ) -> OperationResult:
        attempts = 2 if params.op in READ_ONLY_OPERATIONS else 1
        error: ExecutionError | None = None
        for attempt in range(1, attempts + 1):
            start = time.monotonic()
            try:
                result = self._call(host_name, host, credentials, params)
            except _Failure as failure:
                error = failure.error
                self._log(host_name, params, start, type(error).__name__, attempt, level="warning")
                if failure.transient and attempt < attempts:
                    continue
                break
            outcome = "ok" if result.ok else f"failed:{result.error_code}"
            self._log(host_name, params, start, outcome, attempt)
            return result
        assert error is not None
        raise error

    def _call(
        self, host_name: str, host: Host, credentials: Credentials, params: OperationParams, fresh: bool = False
    ) -> OperationResult:
        """One attempt. Raises _Failure; never lets a library exception (or its context) escape."""
        deadline_s = self.deadline_s if self.deadline_s is not None else params.timeout_s + self.grace_s
        deadline = time.monotonic() + deadline_s
        failure: _Failure | None = None
        shell_id = command_id = None
        finished = False
        stdout, stderr, exit_code = bytearray(), bytearray(), -1
        protocol: Protocol | None = None
        lease: Lease | None = None
        try:
            lease = self.sessions.lease(
                session_key(host_name, host, credentials),
                lambda: build_protocol(host, credentials, self.timeouts, proxy=self.proxy,
                                       ca_trust_path=self.ca_trust_path),
                fresh=fresh,
            )
            protocol = lease.protocol
            shell_id = lease.shell_id or protocol.open_shell(codepage=65001, noprofile=True)
            lease.shell_id = None  # kept again below only if this operation ends cleanly
            executable, arguments = bootstrap_command()
            command_id = protocol.run_command(shell_id, executable, arguments, console_mode_stdin=False)
            protocol.send_command_input(shell_id, command_id, stdin_payload(params).encode("utf-8"), end=True)
            while not finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                protocol.operation_timeout_sec = self.timeouts.receive_wait_s(remaining)
                try:
                    out, err, exit_code, finished = protocol.get_command_output_raw(shell_id, command_id)
                except WinRMOperationTimeoutError:
                    continue  # the server's OperationTimeout passed: ask again, within our deadline
                stdout += out
                stderr += err
        except Exception as exc:  # mapped below; the original is not chained (it may hold headers)
            failure = _map_exception(
                host_name, host, params, exc, command_started=command_id is not None, read_s=self.timeouts.read_s
            )
        except BaseException:  # interrupted: still tell the host, then let it propagate
            self._clean_up(protocol, shell_id, command_id, finished)
            if lease is not None:
                lease.discard()
            raise
        keep = self.keep_shells and failure is None and finished
        cleanup_problem = self._clean_up(protocol, None if keep else shell_id, command_id, finished)
        if lease is not None:
            if failure is None and finished and not cleanup_problem:
                lease.shell_id = shell_id if keep else None
                lease.release()
            else:
                lease.discard()
                if failure is not None and lease.reused and command_id is None:  # nothing ran: maybe just stale
                    return self._call(host_name, host, credentials, params, fresh=True)
        if failure is not None and cleanup_problem:
            failure.error = type(failure.error)(host_name, f"{failure.error.detail}{cleanup_problem}")
        if failure is None and not finished:
            stopped = cleanup_problem or "the command was terminated and its shell deleted."
            partly = "" if params.op in READ_ONLY_OPERATIONS else " (the operation may have partly happened)"
            failure = _Failure(
                TimedOut(
                    host_name,
                    f"the {params.op} operation did not finish within {deadline_s:g} s; {stopped.strip()} The host "
                    "may be overloaded or a WMI call may hang; check the host, then run `aspreset status` before "
                    f"repeating{partly}.",
                ),
                transient=False,
            )
        if failure is not None:
            raise failure
        return _parse(host_name, params, bytes(stdout), bytes(stderr), exit_code)

    def _clean_up(self, protocol: Protocol | None, shell_id: str | None, command_id: str | None, finished: bool) -> str:
        """Signal terminate (only if the command did not finish) and Delete the shell. Returns a
        note for the error message when the host could not be told."""
        if protocol is None:
            return ""
        problem = ""
        if shell_id is not None and command_id is not None and not finished:
            try:
                protocol.cleanup_command(shell_id, command_id)
            except Exception:
                problem = " The terminate signal could not be delivered."
        if shell_id is not None:
            try:
                protocol.close_shell(shell_id, close_session=False)  # the session is kept for reuse
            except Exception:
                problem = " The remote shell could not be deleted; WinRM drops it after its idle timeout."
        return problem  # the session itself is released to (or discarded from) the cache by the caller

    def _log(
        self, host_name: str, params: OperationParams, start: float, outcome: str, attempt: int, level: str = "info"
    ) -> None:
        getattr(log, level)(
            "winrm.call",
            host=host_name,
            op=params.op,
            request_id=params.request_id,
            ms=int((time.monotonic() - start) * 1000),
            outcome=outcome,
            attempt=attempt,
        )


def failure_of(host_name: str, result: OperationResult) -> ScriptFailed | None:
    """The ScriptFailed an `ok=false` result stands for (None when it succeeded)."""
    if result.ok:
        return None
    return ScriptFailed(host_name, result.error_code or "internal", result.error or "the operation failed")


# ---- output --------------------------------------------------------------------------------------


def _parse(host_name: str, params: OperationParams, stdout: bytes, stderr: bytes, exit_code: int) -> OperationResult:
    op = params.op
    if exit_code != 0:
        raise _Failure(
            ScriptFailed(
                host_name,
                f"exit_{exit_code}",
                f"the {op} script exited with code {exit_code}: {_summary(stderr) or 'no message on stderr'}",
            ),
            transient=False,
        )
    text = stdout.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise _Failure(
            ProtocolError(
                host_name,
                f"the {op} script printed {len(lines)} lines on stdout, expected exactly one JSON object "
                "(a profile script or a stray Write-Output on the host?)",
            ),
            transient=False,
        )
    model = RESULT_MODELS[op]
    try:
        result = model.model_validate_json(lines[0])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise _Failure(
            ProtocolError(
                host_name,
                f"the {op} script's output is not a {model.__name__}: {exc.error_count()} problem(s), "
                f"first at {where}: {first['type']}",
            ),
            transient=False,
        ) from None
    assert isinstance(result, StatusResult | RestartResult | DiscoverResult)
    if isinstance(result, RestartResult) and result.op != op:
        raise _Failure(
            ProtocolError(host_name, f"asked for {op}, the script answered for {result.op}"), transient=False
        )
    return result


def _summary(stderr: bytes, limit: int = 300) -> str:
    text = stderr.decode("utf-8", errors="replace")
    if text.startswith("#< CLIXML"):
        text = text.replace("_x000D__x000A_", " ")
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


# ---- exceptions ----------------------------------------------------------------------------------

_DOCTOR = "run `aspreset doctor {host}`"


def _map_exception(
    host_name: str, host: Host, params: OperationParams, exc: Exception, *, command_started: bool, read_s: float
) -> _Failure:
    endpoint = host.endpoint
    maybe_ran = (
        " The operation may already have started on the host: run `aspreset status` before repeating it."
        if command_started and params.op not in READ_ONLY_OPERATIONS
        else ""
    )
    if isinstance(exc, AuthenticationError):
        return _Failure(
            AuthenticationFailed(
                host_name,
                f"{endpoint} refused the credentials (HTTP 401) for transport {host.transport!r}. Check the user "
                "name and password (and the variable or file they come from), that this authentication "
                "scheme is enabled on the host (`winrm get winrm/config/service/auth`: Basic, Negotiate, "
                "Kerberos, CredSSP), for Kerberos the HTTP/<host> SPN and a clock skew under 5 minutes, and "
                f"that the user is an administrator of the host; {_DOCTOR.format(host=host_name)}",
            ),
            transient=False,
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Failure(
            HostUnreachable(
                host_name,
                f"could not connect to {endpoint} (no answer within the connect timeout): check the address, "
                f"port 5985/5986 and the firewall; {_DOCTOR.format(host=host_name)}",
            ),
            transient=True,
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure(
            ProtocolError(
                host_name,
                f"the TLS handshake with {endpoint} failed: check the host's WinRM HTTPS listener certificate "
                "and that this machine trusts it (server_cert_validation, REQUESTS_CA_BUNDLE); "
                f"{_DOCTOR.format(host=host_name)}",
            ),
            transient=False,
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return _Failure(
            TimedOut(
                host_name,
                f"{endpoint} accepted the connection but WinRM did not answer within {read_s:g} s; "
                f"the host may be overloaded.{maybe_ran}",
            ),
            transient=True,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _is_connect_failure(exc):
            return _Failure(
                HostUnreachable(
                    host_name,
                    f"could not connect to {endpoint} ({_connect_reason(exc)}): check the address, port "
                    f"5985/5986 and the firewall; {_DOCTOR.format(host=host_name)}",
                ),
                transient=True,
            )
        return _Failure(
            HostUnreachable(
                host_name,
                f"the connection to {endpoint} was closed before WinRM answered (the WinRM service "
                f"restarting, or a proxy, load balancer or firewall dropping it).{maybe_ran}",
            ),
            transient=True,
        )
    if isinstance(exc, WinRMOperationTimeoutError):
        return _Failure(
            TimedOut(host_name, f"WinRM on {endpoint} timed out (OperationTimeout) outside a Receive.{maybe_ran}"),
            transient=True,
        )
    if isinstance(exc, WSManFaultError):
        code = exc.wsman_fault_code if exc.wsman_fault_code is not None else exc.wmierror_code
        shown = f"{code} (0x{code:08X})" if code is not None else "without a code"
        hint = FAULT_HINTS.get(code or -1, f"look it up with `winrm helpmsg 0x{code or 0:08X}` on the host")
        reason = " ".join((exc.reason or "").split())[:200].rstrip(". ")
        return _Failure(
            ProtocolError(
                host_name,
                f"WinRM answered with fault {shown} {exc.fault_subcode or ''}: {hint}. Server said: "
                f"{reason}.{maybe_ran}",
            ),
            transient=code in (0x803381A6, 0x80338029),
        )
    if isinstance(exc, WinRMTransportError):
        return _Failure(
            ProtocolError(
                host_name,
                f"{endpoint} answered HTTP {exc.code} without a WS-Management fault: is this a WinRM listener "
                f"(path /wsman) and not a proxy or another web server?{maybe_ran}",
            ),
            transient=exc.code >= 500,
        )
    if isinstance(exc, WinRMError):
        return _Failure(
            ProtocolError(host_name, f"pywinrm refused the call: {type(exc).__name__}: {exc}"), transient=False
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return _Failure(
            ProtocolError(host_name, f"HTTP request to {endpoint} failed ({type(exc).__name__}).{maybe_ran}"),
            transient=False,
        )
    return _Failure(
        ProtocolError(host_name, f"unexpected answer from WinRM at {endpoint} ({type(exc).__name__}).{maybe_ran}"),
        transient=False,
    )


def _chain(exc: BaseException) -> Sequence[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nxt = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nxt or current.__cause__ or current.__context__ or getattr(current, "reason", None)
    return seen


def _is_connect_failure(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(
        names
        & {"NewConnectionError", "NameResolutionError", "ConnectionRefusedError", "gaierror", "ConnectTimeoutError"}
    )


def _connect_reason(exc: BaseException) -> str:
    names = {type(e).__name__ for e in _chain(exc)}
    if names & {"NameResolutionError", "gaierror"}:
        return "the name does not resolve"
    if "ConnectionRefusedError" in names:
        return "connection refused: nothing listens on that port"
    return "no connection"
