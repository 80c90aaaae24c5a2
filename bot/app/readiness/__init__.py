"""Is a host ready for aspreset, before any request runs there: `doctor` (read-only checks, each
failing one with its fix) and `exercise` (each rung once on a canary site the team named). Both run
over the Executor port and return views (bot/app/readiness/views.py) that the CLI renders."""

from __future__ import annotations

from bot.app.errors import ExecutionError
from bot.app.ports import Executor
from bot.app.results import OperationParams, OperationResult
from policies.inventory import Host


def run_one(executor: Executor, host_name: str, host: Host, params: OperationParams) -> OperationResult:
    """One operation on one host; the host's failure is raised as its ExecutionError."""
    [result] = executor.run_many([(host_name, host, params)])
    if isinstance(result, ExecutionError):
        raise result
    return result
