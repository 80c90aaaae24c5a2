"""The one place that builds real adapters from settings. Tests build the Service with fakes or
with these same adapters pointed at the simulated farm and a temporary database."""

from __future__ import annotations

import os
import socket

import structlog

from bot.config import Settings
from bot.ports import Store
from bot.service import Service, utc_now
from bot.store import RequestState, open_store
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts

log = structlog.get_logger("aspreset.bootstrap")


def executor_for(settings: Settings) -> WinRMExecutor:
    return WinRMExecutor(
        env=settings.env,
        max_parallel=settings.winrm.max_parallel,
        timeouts=Timeouts(connect_s=settings.winrm.connect_timeout_s),
    )


def process_owner() -> str:
    """Names this process as the runner of a request: `host/pid`."""
    return f"{socket.gethostname()}/{os.getpid()}"


def build_service(settings: Settings) -> Service:
    """A Service with the SQL store and the WinRM executor. Requests that a dead process on this
    machine left `running` are marked interrupted first (never re-run), which frees their locks."""
    store = open_store(settings.db_url, settings.workdir)
    reap_dead_local_runs(store)
    return Service(
        settings.policy(),
        settings.inventory(),
        executor=executor_for(settings),
        store=store,
        command_timeout_s=settings.winrm.command_timeout_s,
        owner=process_owner(),
        cli_user=settings.cli_user,
    )


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
