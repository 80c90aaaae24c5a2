"""`--run-one` (of `aspreset serve` and `aspreset mcp`, hidden): be a runner process (bot/runner) for
the front end that started it, with the same files, and the command line that starts one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bot.config import Settings


def add_run_one(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-one", action="store_true", help=argparse.SUPPRESS)  # started by the front end


def runner_argv(command: str, args: argparse.Namespace, role: str = "--run-one") -> list[str]:
    """This command again, as a runner (or another `role` its front end starts: `--slack-work`), with
    the same files (the environment is inherited)."""
    argv = [sys.executable, "-m", "bot.cli", command, role]
    for option in ("config", "policy", "inventory", "db"):
        value = getattr(args, option, None)
        if value:
            argv += [f"--{option}", value]
    return argv


def run_one(settings: Callable[[], Settings]) -> int:
    """Wait for the job on stdin, run it with the service built from the current files, close it."""
    # imported before the job arrives: a warm runner has paid for them when its job comes
    import bot.drain.hooks
    import bot.store.liveness
    import bot.winrm.executor  # noqa: F401
    from bot.app.service import Service
    from bot.bootstrap import Runtime, build
    from bot.runner.worker import EventLines, RunnerMetrics, serve_job

    built: list[Runtime] = []

    def service(lines: EventLines) -> Service:
        built.append(build(settings(), notifier=lines, metrics=RunnerMetrics(lines)))
        return built[-1].service

    try:
        return serve_job(service)
    finally:
        for runtime in built:
            runtime.close()
