"""`aspreset mcp`: serve MCP over stdio for one AI assistant, acting as `mcp:NAME`.

An MCP client (Claude Desktop, VS Code, ...) starts this command and speaks MCP on its stdin and
stdout; logs go to stderr. The process always starts: if the policy, inventory or store cannot be
read, it says so on stderr and every tool fails closed until they can (docs/mcp.md).

Each restart runs in a runner of its own (`--run-one`, started by the server in a new session), so
the client stopping this process (it closes stdin, then signals the process group) never stops a
restart half-way; the runner records it to the end (bot/runner)."""

from __future__ import annotations

import argparse

from bot.cli.runner import add_run_one, run_one, runner_argv
from bot.config import Settings, load_settings

HELP = "serve MCP over stdio for an AI assistant (it can request restarts, never approve)"
DEFAULT_PRINCIPAL = "assistant"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--principal", default=DEFAULT_PRINCIPAL, metavar="NAME",
        help=f"act as mcp:NAME, whom the policy's rules name (default: {DEFAULT_PRINCIPAL})",
    )
    parser.add_argument(
        "--answer-after", type=_seconds, default=None, metavar="SECONDS",
        help="answer a restart still running after this long with its state so far; it goes on (default: 25)",
    )
    add_run_one(parser)  # the runner, see above


def cmd_mcp(args: argparse.Namespace) -> int:
    if args.run_one:
        return run_one(lambda: _settings(args))
    from bot.mcp.services import assistant
    from bot.mcp.stdio import serve_stdio

    assistant(args.principal)  # a bad name is bad input: exit 2 before serving
    return serve_stdio(args.principal, lambda: _settings(args), runner_argv("mcp", args), args.answer_after)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)


def _seconds(text: str) -> float:
    value = float(text)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"--answer-after {text}: give seconds between 1 and 3600")
    return value
