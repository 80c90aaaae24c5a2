"""The one composition root: `build(settings, ...)` wires the real adapters (SQL store, WinRM
executor, drain hooks) around the core, and every entry point and test goes through it, passing
fakes or simulator-pointed adapters for any port it wants to replace."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import structlog

from bot.app.errors import ConfigError
from bot.app.events import SilentNotifier
from bot.app.ports import Clock, DrainHooks, Executor, Notifier, Store
from bot.app.records import RequestState
from bot.app.service import Service, utc_now
from bot.config import Settings
from policies.consistency import environments_fit
from policies.inventory import Inventory
from policies.policy import Policy

if TYPE_CHECKING:
    from bot.winrm.executor import WinRMExecutor

log = structlog.get_logger("aspreset.bootstrap")


def build(
    settings: Settings,
    *,
    executor: Executor | None = None,
    store: Store | None = None,
    notifier: Notifier | None = None,
    clock: Clock | None = None,
    hooks: DrainHooks | None = None,
) -> Service:
    """A Service with every port filled: the given ones, else the real adapters from `settings`.
    Requests that a dead process on this machine left `running` are marked interrupted first (never
    re-run), which frees their locks."""
    policy, inventory = settings.policy(), settings.inventory()  # bad files fail before anything opens
    check_environments(policy, inventory, settings)
    warn_on_split_database(settings)
    if store is None:
        from bot.store import open_store

        store = open_store(settings.db_url, settings.workdir)
        reap_dead_local_runs(store)
    if hooks is None:
        from bot.drain.hooks import ProcessAndHttpHooks

        hooks = ProcessAndHttpHooks()
    return Service(
        policy,
        inventory,
        executor=executor or executor_for(settings),
        store=store,
        notifier=notifier or SilentNotifier(),
        clock=clock or utc_now,
        hooks=hooks,
        host_concurrency=settings.winrm.max_parallel,
        command_timeout_s=settings.winrm.command_timeout_s,
        owner=settings.owner or process_owner(),
    )


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
    """Says once (a warning on stderr) when this config file was used with another database before."""
    from bot.store.choice import note_database

    if settings.config_path is None or settings.db_url is None:
        return None
    warning = note_database(settings.config_path, settings.db_url, settings.db_source, settings.env)
    if warning:
        log.warning("database_split", detail=warning)
    return warning


def executor_for(settings: Settings) -> WinRMExecutor:
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
    )


def process_owner() -> str:
    """Names this process as the runner of a request: `host/pid`."""
    return f"{socket.gethostname()}/{os.getpid()}"


def reap_dead_local_runs(store: Store) -> list[str]:
    """Mark interrupted the running requests whose runner was a process of this machine that no
    longer exists (killed, crashed, machine rebooted). Runs of other machines are left alone."""
    here = socket.gethostname()
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
