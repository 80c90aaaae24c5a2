"""The one place that builds real adapters from settings. Tests build the Service with fakes or
with these same adapters pointed at the simulated farm and a temporary database."""

from __future__ import annotations

import os
import socket

from bot.config import Settings
from bot.service import Service
from bot.store import open_store
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts


def executor_for(settings: Settings) -> WinRMExecutor:
    return WinRMExecutor(
        env=settings.env,
        max_parallel=settings.winrm.max_parallel,
        timeouts=Timeouts(connect_s=settings.winrm.connect_timeout_s),
    )


def build_service(settings: Settings, owner: str | None = None) -> Service:
    """A Service with the SQL store and the WinRM executor. `owner` names this process for the
    requests it runs, so a restart marks only its own cut-off runs as interrupted."""
    return Service(
        settings.policy(),
        settings.inventory(),
        executor=executor_for(settings),
        store=open_store(settings.db_url, settings.workdir),
        command_timeout_s=settings.winrm.command_timeout_s,
        owner=owner or f"{socket.gethostname()}/cli/{os.getpid()}",
    )
