"""The Executor over pywinrm: one shell and one command per host per operation, inside one deadline
per host call that covers the connect, every request, every Receive and the clean-up (the sockets
are watched, so an endpoint that stalls ends at the deadline too). Errors are the project's own
(bot.winrm.faults), each a sentence saying what to check; read-only operations are retried once on
a transient error, restarts never. Sessions, and with `keep_shells` their shells, are kept per host
(bot.winrm.sessions) and deleted by `close`. How a host call runs, request by request:
docs/architecture.md, "What travels to a host"."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple

import structlog
from winrm.exceptions import WinRMError, WinRMOperationTimeoutError

from bot.app.errors import ExecutionError, TimedOut
from bot.app.results import OperationParams, OperationResult
from bot.winrm.credentials import Credentials, resolve_credentials
from bot.winrm.deadline import READ_ONLY_OPERATIONS, Deadline, Deadlines
from bot.winrm.faults import FIRST_PHASE, CallContext, Failure, deadline_passed, map_exception
from bot.winrm.output import failure_of, parse_output
from bot.winrm.scripts import bootstrap_command, stdin_payload
from bot.winrm.sessions import SessionCache, session_key
from bot.winrm.transport import HostSession, Timeouts, check_transport, open_session
from policies.inventory import Host

__all__ = ["READ_ONLY_OPERATIONS", "HostCall", "WinRMExecutor", "failure_of"]

log = structlog.get_logger("bot.winrm.executor")


class HostCall(NamedTuple):
    host_name: str
    host: Host
    params: OperationParams


class WinRMExecutor:
    """Runs operations on IIS hosts over WinRM, each host call within its operation's deadline.

    `deadlines` per operation kind (default `Deadlines()`); `deadline_s` sets one deadline for
    every kind (tests, one-off tools). When it passes, the call's sockets are cut, the command is
    terminated and the shell deleted within the clean-up budget, and TimedOut is raised.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        max_parallel: int = 8,
        timeouts: Timeouts | None = None,
        deadlines: Deadlines | None = None,
        deadline_s: float | None = None,
        proxy: str | None = None,
        ca_trust_path: str | None = None,
        sessions: SessionCache | None = None,
        keep_shells: bool = False,
        on_error: Callable[[str, str, int | None], None] | None = None,
    ) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self._env = os.environ if env is None else env
        self.max_parallel = max_parallel
        self.timeouts = timeouts or Timeouts()
        self.deadlines = Deadlines.every(deadline_s) if deadline_s is not None else (deadlines or Deadlines())
        self.proxy = proxy
        self.ca_trust_path = ca_trust_path or self._env.get("REQUESTS_CA_BUNDLE") or None
        self.sessions = sessions or SessionCache(close_within_s=self.deadlines.cleanup_s)
        self.keep_shells = keep_shells  # keep each host's shell with its session between operations
        self._flight = threading.Condition()  # the deadlines of the host calls in flight, for `abandon`
        self._in_flight: set[Deadline] = set()
        self._abandoned = False
        self.on_error = on_error  # (op, error code, WSManFault code) of each failed attempt: the metrics

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

    def run_many(
        self, calls: Iterable[HostCall | tuple[str, Host, OperationParams]]
    ) -> list[OperationResult | ExecutionError]:
        """Run each call on its host in parallel (at most `max_parallel` at once), results in the
        order of `calls`. Every host is prepared first: a ConfigError or InsecureTransport for any
        of them is raised before any host is contacted. Each host has its own deadline, so a
        silent host costs its own deadline and never delays the others' calls."""
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

    def close(self) -> None:
        """Delete the shells kept on the hosts and close every kept session, the hosts in parallel,
        each within the clean-up budget: a front end calls this on its way out, else each kept shell
        counts against the host's MaxShellsPerUser until WinRM's idle timeout (two hours)."""
        self.sessions.close()

    def abandon(self, within_s: float) -> None:
        """The process ends without waiting for its host calls (a second Ctrl-C): each call in flight
        is cut as at its deadline, so it terminates its command and deletes its shell on a fresh
        connection, then the kept shells are deleted. Returns when that is done or after `within_s`,
        whatever the hosts do; nothing is retried or started afterwards."""

        def cut_and_close() -> None:
            with self._flight:
                self._abandoned = True
                calls = list(self._in_flight)
            for deadline in calls:
                deadline.cut_now()
            with self._flight:
                self._flight.wait_for(lambda: not self._in_flight, timeout=within_s)
            self.sessions.close()

        closing = threading.Thread(target=cut_and_close, name="winrm-abandon", daemon=True)
        closing.start()
        closing.join(within_s)

    @contextmanager
    def _flying(self, deadline: Deadline) -> Iterator[None]:
        with self._flight:
            if self._abandoned:
                deadline.cut_now()
            self._in_flight.add(deadline)
        try:
            yield
        finally:
            with self._flight:
                self._in_flight.discard(deadline)
                self._flight.notify_all()

    # ---- sessions (the hook a per-host session cache overrides) -------------------------------

    def open_session(self, host_name: str, host: Host, credentials: Credentials) -> HostSession:
        return self.sessions.take(
            session_key(host_name, host, credentials),
            lambda: open_session(
                host_name, host, credentials, self.timeouts, proxy=self.proxy, ca_trust_path=self.ca_trust_path
            ),
        )

    def release_session(self, session: HostSession, *, reusable: bool) -> None:
        """`reusable` is False after a failure or a cut socket: such a session is closed."""
        self.sessions.give_back(session, reusable=reusable)

    def connect(self, host_name: str, host: Host) -> None:
        """Open the host's session ahead of its operation (for NTLM the handshake; with kept shells,
        its shell) and keep it in the cache. Nothing runs on the host; any problem is left for the
        operation itself to meet and report."""
        try:
            credentials = self.prepare(host_name, host)
        except Exception:
            return
        session = self.open_session(host_name, host, credentials)
        seconds, setting = self.deadlines.for_op("status")
        reusable = False
        try:
            with Deadline(seconds, session.watch, setting=setting) as deadline:
                deadline.phase = FIRST_PHASE
                session.bind(deadline)
                session.protocol.transport.build_session()
                if self.keep_shells and session.kept_shell is None:
                    session.kept_shell = session.protocol.open_shell(codepage=65001, noprofile=True)
                reusable = not deadline.expired
        except Exception:
            reusable = False
        finally:
            self.release_session(session, reusable=reusable)

    # ---- one host -----------------------------------------------------------------------------

    def _run_prepared(
        self, host_name: str, host: Host, credentials: Credentials, params: OperationParams
    ) -> OperationResult:
        seconds, setting = self.deadlines.for_op(params.op, warm_up=params.warm_up, request_s=params.timeout_s)
        session = self.open_session(host_name, host, credentials)
        attempts = 2 if params.op in READ_ONLY_OPERATIONS else 1
        reusable = False
        error: ExecutionError | None = None
        try:
            with Deadline(seconds, session.watch, setting=setting) as deadline, self._flying(deadline):
                for attempt in range(1, attempts + 1):
                    start = time.monotonic()
                    try:
                        result = self._call(session, deadline, credentials, params)
                    except Failure as failure:
                        self._log(host_name, params, start, failure.error.code, attempt, level="warning")
                        if self.on_error is not None:
                            self.on_error(params.op, failure.error.code, failure.fault)
                        error = failure.error
                        if not (failure.transient and attempt < attempts and deadline.remaining() > 1.0
                                and not self._abandoned):
                            break
                        session.restart_http()
                        deadline.arm(deadline.end)
                        continue
                    self._log(host_name, params, start, "ok" if result.ok else f"failed:{result.error_code}", attempt)
                    reusable = not deadline.expired
                    return result
        finally:
            self.release_session(session, reusable=reusable)
        assert error is not None
        raise error  # outside the except block: nothing chained

    def _call(
        self, session: HostSession, deadline: Deadline, credentials: Credentials, params: OperationParams
    ) -> OperationResult:
        """One attempt. Raises Failure; never lets a library exception (or its context) escape."""
        protocol = session.protocol
        connections_before = session.watch.connections
        shell_id = command_id = None
        finished = False
        stdout, stderr, exit_code = bytearray(), bytearray(), -1
        failure: Failure | None = None

        def context() -> CallContext:
            return CallContext(
                session.host_name, session.host, params.op, deadline, self.timeouts, credentials.username,
                command_started=command_id is not None,
                connections=session.watch.connections - connections_before,
            )

        try:
            executable, arguments = bootstrap_command()
            shell_id, session.kept_shell = session.kept_shell, None
            if shell_id is not None:  # the shell kept from this host's last operation
                deadline.arm(deadline.end - min(self.deadlines.cleanup_s, deadline.seconds / 4))
                deadline.phase = f"starting the {params.op} command"
                session.bind(deadline)
                try:
                    command_id = protocol.run_command(shell_id, executable, arguments, console_mode_stdin=False)
                except WinRMError:  # a reply, so nothing ran: the shell is gone
                    # (WinRM restarted, its idle timeout passed) or the server lost the NTLM context
                    shell_id = None
                    session.restart_http()
            if shell_id is None:
                deadline.phase = FIRST_PHASE
                session.bind(deadline)
                try:
                    shell_id = protocol.open_shell(codepage=65001, noprofile=True)
                except Exception:
                    if not session.reused:
                        raise
                    # a reused connection went stale while idle: Create is harmless, try once afresh
                    session.reused = False
                    session.restart_http()
                    session.bind(deadline)
                    shell_id = protocol.open_shell(codepage=65001, noprofile=True)
                # From here on there is a shell to delete: keep the end of the deadline for that.
                deadline.arm(deadline.end - min(self.deadlines.cleanup_s, deadline.seconds / 4))
            if command_id is None:
                deadline.phase = f"starting the {params.op} command"
                session.bind(deadline)
                command_id = protocol.run_command(shell_id, executable, arguments, console_mode_stdin=False)
            deadline.phase = f"sending the {params.op} script"
            session.bind(deadline)
            protocol.send_command_input(shell_id, command_id, stdin_payload(params).encode("utf-8"), end=True)
            deadline.phase = f"receiving the {params.op} output"
            while not finished:
                remaining = deadline.until - time.monotonic()
                if remaining <= 0:
                    break
                protocol.operation_timeout_sec = self.timeouts.receive_wait_s(remaining)
                session.bind(deadline)
                try:
                    out, err, exit_code, finished = protocol.get_command_output_raw(shell_id, command_id)
                except WinRMOperationTimeoutError:
                    continue  # the server's OperationTimeout passed: ask again, within our deadline
                stdout += out
                stderr += err
        except Exception as exc:  # mapped; the original is not chained (it may hold headers)
            failure = map_exception(context(), exc)
        except BaseException:  # interrupted: still tell the host, then let it propagate
            self._clean_up(session, deadline, shell_id, command_id, finished, broken=True)
            raise
        if failure is None and not finished:
            failure = Failure(deadline_passed(context()), transient=False)
        if failure is None and self.keep_shells and not deadline.expired:
            session.kept_shell = shell_id  # not deleted: the next operation on this host runs in it
            return parse_output(session.host_name, params, bytes(stdout), bytes(stderr), exit_code)
        problem = self._clean_up(session, deadline, shell_id, command_id, finished, broken=failure is not None)
        if failure is not None:
            if not problem and isinstance(failure.error, TimedOut) and shell_id is not None:
                done = "The command was terminated and its shell deleted" if command_id else "Its shell was deleted"
                problem = f" {done}."
            if problem:
                failure.error = type(failure.error)(session.host_name, f"{failure.error.detail}{problem}")
            raise failure
        return parse_output(session.host_name, params, bytes(stdout), bytes(stderr), exit_code)

    def _clean_up(
        self,
        session: HostSession,
        deadline: Deadline,
        shell_id: str | None,
        command_id: str | None,
        finished: bool,
        *,
        broken: bool,
    ) -> str:
        """Signal terminate (only if the command did not finish) and Delete the shell, on the
        clean-up budget. Returns a note for the error message when the host could not be told."""
        if shell_id is None:
            return ""
        deadline.disarm()
        if broken:  # cut sockets, a reset, or a half-read answer: start a fresh HTTP session
            session.restart_http()
        budget = max(0.2, min(self.deadlines.cleanup_s, deadline.end - time.monotonic()))
        protocol = session.protocol
        problem = ""
        with Deadline(budget, session.watch, setting="cleanup_budget_s") as cleanup:
            if command_id is not None and not finished:
                cleanup.phase = "terminating the command"
                session.bind(cleanup)
                try:
                    protocol.cleanup_command(shell_id, command_id)
                except Exception:
                    problem = " The terminate signal could not be delivered."
            cleanup.phase = "deleting the shell"
            session.bind(cleanup)
            try:
                protocol.close_shell(shell_id, close_session=False)
            except Exception:
                problem = (
                    f" The remote shell could not be deleted within {budget:.1f} s; WinRM drops it after its "
                    "idle timeout."
                )
        if cleanup.expired:
            session.restart_http()
        return problem

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
