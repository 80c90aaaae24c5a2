"""The one composition root. `build(settings, ...)` wires the real adapters (SQL store, WinRM
executor, drain hooks) around the core and returns a `Runtime` that closes what it opened; every
entry point and test goes through it, passing fakes or simulator-pointed adapters for any port it
wants to replace (what it is given, its caller closes). `build_hosts` is the same for the commands
that only reach hosts (doctor, discover): no store."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import structlog

from bot.app.errors import ConfigError
from bot.app.events import SilentNotifier
from bot.app.ports import (
    ChannelNames,
    Clock,
    DrainHooks,
    Executor,
    Metrics,
    NoMetrics,
    Notifier,
    RunLiveness,
    RunsApart,
    Store,
)
from bot.app.records import RequestState
from bot.app.service import Service, utc_now
from bot.config import Settings, former_default_database
from policies.consistency import environments_fit
from policies.inventory import Inventory
from policies.policy import Policy

if TYPE_CHECKING:
    from bot.winrm.executor import WinRMExecutor

log = structlog.get_logger("aspreset.bootstrap")


class _Closes:
    """What it opened, closed once, last opened first (the service's host threads before the
    executor's sessions and their remote shells, those before the store)."""

    _stack: ExitStack

    def on_close(self, callback: Callable[[], object]) -> None:
        """Close something a front end opened around it too (Slack's work pool, its Notifier)."""
        self._stack.callback(callback)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


@dataclass(eq=False)
class Runtime(_Closes):
    service: Service
    interrupted: list[str]  # requests a dead process of this machine left running, marked interrupted now
    metrics: Metrics = field(default_factory=NoMetrics)  # what /metrics reads (serve), else nothing
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)
    _executor: WinRMExecutor | None = field(default=None, repr=False)  # the one build opened, if it did

    def abandon_hosts(self, within_s: float) -> None:
        """The process is about to end without waiting for its hosts (a second Ctrl-C): the host
        calls in flight are cut, so each terminates its command and deletes its shell, and the kept
        shells are deleted, within `within_s` whatever the hosts do (WinRMExecutor.abandon)."""
        if self._executor is not None:
            self._executor.abandon(within_s)


@dataclass(eq=False)
class Hosts(_Closes):
    """What reaching hosts needs, without the store: for doctor, exercise and discover."""

    policy: Policy
    inventory: Inventory
    executor: WinRMExecutor
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)


def build(
    settings: Settings,
    *,
    executor: Executor | None = None,
    store: Store | None = None,
    notifier: Notifier | None = None,
    notifier_for: Callable[[Store], Notifier] | None = None,
    clock: Clock | None = None,
    hooks: DrainHooks | None = None,
    metrics: Metrics | None = None,
    runs: RunsApart | None = None,
    channel_names: ChannelNames | None = None,
) -> Runtime:
    """The service with every port filled: the given ones, else the real adapters from `settings`
    (`notifier_for` makes the Notifier from the store, for one that keeps its state there).
    `metrics` (serve's bot.metrics.PrometheusMetrics) hears every request event before the
    Notifier does, and counts the failed calls of the WinRM executor built here. `runs` sends each
    run to a runner process (bot/runner). On a SQL store every run here renews its liveness record,
    so that a replica's sweeper can tell when its process died.
    Requests that a dead process on this machine left `running` are marked interrupted first (never
    re-run), which frees their locks. If anything fails, what was opened is closed again. The
    service reads its policy and inventory files again when they change (PolicyFiles)."""
    files = PolicyFiles(settings)  # before reading them: a change from here on is seen
    policy, inventory = settings.policy(), settings.inventory()  # bad files fail before anything opens
    check_environments(policy, inventory, settings)
    warn_on_split_database(settings)
    stack = ExitStack()
    try:
        interrupted: list[str] = []
        own: WinRMExecutor | None = None
        if store is None:
            from bot.store import open_store

            store = open_store(settings.db_url, settings.workdir)
            stack.callback(store.close)
            interrupted = reap_dead_local_runs(store, settings.replica)
        if executor is None:
            executor = own = _own_executor(settings, stack, metrics)
        from bot.store.incidents import incidents_for

        if hooks is None:
            from bot.drain.hooks import ProcessAndHttpHooks

            hooks = ProcessAndHttpHooks()
        told = notifier or (notifier_for(store) if notifier_for else SilentNotifier())
        if metrics is not None:
            from bot.metrics.notifier import MeasuredNotifier

            told = MeasuredNotifier(metrics, told)
        service = Service(
            policy,
            inventory,
            executor=executor,
            store=store,
            notifier=told,
            clock=clock or utc_now,
            hooks=hooks,
            host_concurrency=settings.winrm.max_parallel,
            command_timeout_s=settings.winrm.command_timeout_s,
            owner=settings.owner or process_owner(settings.replica),
            incidents=incidents_for(store),
            metrics=metrics,
            reread=files.changed if files.watched else None,
            runs=runs,
            liveness=_liveness(store),
            channel_names=channel_names,
        )
        stack.callback(service.close)
    except BaseException:
        stack.close()
        raise
    return Runtime(service, interrupted, metrics or NoMetrics(), stack, own)


def build_hosts(settings: Settings) -> Hosts:
    policy, inventory = settings.policy(), settings.inventory()
    stack = ExitStack()
    return Hosts(policy, inventory, _own_executor(settings, stack), stack)


def _own_executor(settings: Settings, stack: ExitStack, metrics: Metrics | None = None) -> WinRMExecutor:
    executor = executor_for(settings, metrics)
    stack.callback(executor.close)  # deletes the kept remote shells, then closes the sessions
    return executor


class PolicyFiles:
    """The policy and inventory files behind a Service, looked at before each command of a running
    process (serve, mcp): reading two small files costs less than one WinRM request, and content,
    not modification time, so a quick rewrite counts. The last good files are never used in place
    of a file someone has changed: a broken one fails every command until it is fixed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # files given in memory (Settings.of: the demo, tests) are not watched
        self.watched = settings.loaded_policy is None and settings.loaded_inventory is None and (
            settings.policy_path is not None or settings.inventory_path is not None)
        self._lock = threading.Lock()
        self._seen = self._digests()

    def _digests(self) -> tuple[str | None, ...]:
        return tuple(_digest(path) for path in (self.settings.policy_path, self.settings.inventory_path))

    def changed(self) -> tuple[Policy, Inventory] | None:
        """The files' contents if they changed since the last look, else None; ConfigError (file,
        line, field) if they no longer read, and again on every look until they do."""
        with self._lock:
            now = self._digests()
            if now == self._seen:
                return None
            policy, inventory = self.settings.policy(), self.settings.inventory()
            check_environments(policy, inventory, self.settings)
            self._seen = now
            return policy, inventory


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable: {error.strerror}"


def check_environments(policy: Policy, inventory: Inventory, settings: Settings) -> list[str]:
    """Raises ConfigError when a site names an environment the policy does not define; returns the
    warnings (a policy environment no site uses), each logged once here."""
    fit = environments_fit(policy, inventory, str(settings.inventory_path or "the inventory"))
    if fit.errors:
        raise ConfigError("; ".join(fit.errors))
    for warning in fit.warnings:
        log.info("policy_environment_unused", detail=warning)
    return fit.warnings


def warn_on_split_database(settings: Settings) -> str | None:
    """Says once (a warning on stderr) when this config file was used with another database before,
    and on every run while an earlier version's database sits unused in the working directory."""
    from bot.store.choice import note_database

    former = former_default_database(settings)
    if former:
        log.warning("database_moved", detail=former)
    if settings.config_path is None or settings.db_url is None:
        return None
    warning = note_database(settings.config_path, settings.db_url, settings.db_source, settings.env)
    if warning:
        log.warning("database_split", detail=warning)
    return warning


def executor_for(settings: Settings, metrics: Metrics | None = None) -> WinRMExecutor:
    from bot.winrm.deadline import Deadlines
    from bot.winrm.executor import WinRMExecutor
    from bot.winrm.transport import Timeouts

    return WinRMExecutor(
        env=settings.env,
        max_parallel=settings.winrm.max_parallel,
        timeouts=Timeouts(connect_s=settings.winrm.connect_timeout_s),
        deadlines=Deadlines(
            status_s=settings.winrm.status_deadline_s,
            discover_s=settings.winrm.discover_deadline_s,
            restart_s=settings.winrm.restart_deadline_s,
            cleanup_s=settings.winrm.cleanup_budget_s,
        ),
        ca_trust_path=settings.winrm.ca_trust_path,
        keep_shells=True,  # one shell per host kept with its session: 3 requests per operation, not 5
        on_error=metrics.count_winrm_error if metrics is not None else None,
    )


def _liveness(store: Store) -> RunLiveness | None:
    from bot.store import SqlStore
    from bot.store.liveness import SqlLiveness

    return SqlLiveness(store) if isinstance(store, SqlStore) else None


def process_owner(replica: str | None = None) -> str:
    """Names this process as the runner of a request: `replica/pid` (replica: the host name)."""
    return f"{replica or socket.gethostname()}/{os.getpid()}"


def reap_dead_local_runs(store: Store, replica: str | None = None) -> list[str]:
    """Mark interrupted the running requests whose runner was a process of this machine (`replica`,
    else its host name) that no longer exists (killed, crashed, machine rebooted). Runs of other
    machines are left alone: the sweeper reaps those when their liveness lapses."""
    here = replica or socket.gethostname()
    reaped: list[str] = []
    owners = {r.owner for r in store.list(state=RequestState.RUNNING, limit=1000) if r.owner}
    for owner in sorted(owners):
        host, _, pid = owner.rpartition("/")
        if host == here and pid.isdigit() and not _alive(int(pid)):
            reaped += store.mark_interrupted(utc_now(), owner=owner)
    for request_id in reaped:
        log.warning("interrupted", request_id=request_id, reason="its runner process is gone")
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
