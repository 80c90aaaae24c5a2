"""The `aspreset` command line: every subcommand, its arguments and their help. The handlers are
in bot/cli/commands.py (and checks, mcp, serve); this module only says what can be typed."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable
from typing import Any

from bot.app.errors import AspresetError
from bot.cli import checks
from bot.cli import commands as c
from bot.cli import mcp as mcp_cli
from bot.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DONE
from bot.config import former_default_database, load_settings
from commands.model import Reason
from commands.reasons import REASON_NAMES, UnknownReason, parse_reason
from commands.rungs import Rung

Handler = Callable[[argparse.Namespace], int]

EXIT_CODES = """\
exit codes:
  0    done (also: nothing more to do)
  1    execution failed on at least one host, or nothing was run after a question
  2    bad input or configuration (the message names the file, field or value)
  3    refused by policy (also: locked, not allowed, expired)
  4    waiting for approval
  130  stopped by Ctrl-C or SIGTERM (the request is recorded with what ran)

environment: ASPRESET_CONFIG (the config file), ASPRESET_DB, ASPRESET_USER (who the CLI acts as),
ASPRESET_LOG_LEVEL (debug, info, warning, error; default warning), ASPRESET_LOG_FORMAT (json; default:
readable lines in a terminal, JSON lines otherwise)."""


class _Parser(argparse.ArgumentParser):
    """argparse already exits 2 on bad input; this keeps its message on one clear line, and says
    which command was meant when one is mistyped."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"aspreset: {_did_you_mean(message)}\n")


def _did_you_mean(message: str) -> str:
    """`invalid choice: 'recyle' (choose from 'plan', 'recycle', ...)` -> `unknown command 'recyle':
    did you mean recycle?`."""
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return message
    given, choices = found.group(1), re.findall(r"'([^']*)'", found.group(2))
    close = difflib.get_close_matches(given, choices, n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"the commands are {', '.join(choices)}"
    return f"unknown command {given!r}: {hint}"


def _group(parser: argparse.ArgumentParser) -> Handler:
    """`aspreset policy` alone: the group's own help (its subcommands), exit 2."""

    def show(_: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_BAD_INPUT

    return show


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        try:
            settings = load_settings()
            found = f"config: {settings.config_path or 'none found'}\ndatabase: {settings.database_shown}"
            if former := former_default_database(settings):
                found += f"\nnote: {former}"
        except AspresetError as error:
            found = f"config: {error}"
        print(f"aspreset {version('aspreset')}\n{found}")
        parser.exit(EXIT_DONE)


def _common(parser: argparse.ArgumentParser, *, json_flag: bool = True, db: bool = True) -> None:
    parser.add_argument("--config", help="aspreset.toml (default: $ASPRESET_CONFIG, then ./aspreset.toml)")
    parser.add_argument("--policy", help="policy TOML file (overrides the config file)")
    parser.add_argument("--inventory", help="inventory TOML file (overrides the config file)")
    if db:
        parser.add_argument("--db", help="database URL (default: $ASPRESET_DB, config, .aspreset/aspreset.db)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def _as(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="as_", metavar="PERSON", help="act as this [people] alias or Slack user ID")


def _known_reason(text: str) -> Reason:
    try:
        return parse_reason(text)
    except UnknownReason as unknown:
        raise argparse.ArgumentTypeError(str(unknown)) from None


def _restart_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", help="a site of the inventory (`aspreset say sites` lists them)")
    parser.add_argument("--scope", choices=[r.value for r in Rung],
                        help="the rung to use instead of the narrowest one the change or reason needs")
    parser.add_argument("--reason", type=_known_reason, metavar="REASON",
                        help=f"why, as one of the known reasons: {', '.join(REASON_NAMES)}")
    parser.add_argument("--note", help="free text about why, kept with the request and the audit trail")
    parser.add_argument("--changed", action="append", metavar="PATH",
                        help="a file the deploy changed; repeat the flag for each file")
    parser.add_argument("--host", nargs="+", metavar="HOST", help="only these hosts of the site")
    parser.add_argument("--from", dest="from_host", metavar="HOST",
                        help="resume a rollout: this host and the ones after it in the site's order")
    _as(parser)


def build_parser() -> argparse.ArgumentParser:
    from bot.sim.timing import add_timing_arguments

    parser = _Parser(prog="aspreset", description="Restart ASP.NET on IIS as narrowly as the job needs.",
                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the version, the config file found and the database it uses, and exit")
    sub = parser.add_subparsers(title="commands", parser_class=_Parser)

    def add(name: str, handler: Handler, help_text: str, **common: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        _common(p, **common)
        return p

    p = add("plan", c.cmd_plan, "show the narrowest restart and the policy decision; runs nothing")
    _restart_options(p)
    p = add("recycle", c.cmd_recycle, "request a restart; runs it at once when the policy allows")
    _restart_options(p)
    p.add_argument("--dry-run", action="store_true", help="plan and decide only; records and runs nothing")
    p.add_argument("--yes", action="store_true",
                   help="do not ask before restarting a prod site (asked only in a terminal)")
    p = add("status", c.cmd_status, "pool state, worker PIDs and AppDomain ids per host (read-only)")
    p.add_argument("site", help="a site of the inventory")
    p = add("approve", c.cmd_approve, "approve a waiting request (never your own); runs it when complete")
    p.add_argument("request_id", help="the request's id, r-... (`aspreset requests` lists them)")
    _as(p)
    p = add("deny", c.cmd_deny, "deny a waiting request, or cancel your own")
    p.add_argument("request_id", help="the request's id, r-...")
    p.add_argument("--reason", help="why, in words: the requester sees it")
    _as(p)
    p = add("requests", c.cmd_requests, "list requests")
    p.add_argument("--state", help="awaiting_approval, running, succeeded, ...")
    p.add_argument("--site", help="only this site's requests")
    p.add_argument("--limit", type=int, default=100, help="at most this many, newest first (default 100)")
    p = add("audit", c.cmd_audit, "the audit trail (never edited)")
    p.add_argument("--site", help="only this site's events")
    p.add_argument("--since", help="ISO time with timezone, e.g. 2026-11-24T08:00Z")
    p.add_argument("--request", help="only this request id")
    p = add("watch", c.cmd_watch, "probe a site's hosts as the health watch does, in a live table (docs/watch.md)",
            json_flag=False)
    p.add_argument("site", help="a site of the inventory (its [sites.X.watch], or the defaults)")
    p.add_argument("--interval", type=float, help="seconds between rounds (default: the site's interval_s)")
    p.add_argument("--rounds", type=int, help="stop after this many rounds (default: until Ctrl-C)")
    p = add("say", c.cmd_say, "feed one line of chat text through the bot, as Slack would")
    p.add_argument("text", help='the chat line, quoted: "/recycle plan shop-web --reason gac"')
    _as(p)
    p = add("mcp", mcp_cli.cmd_mcp, mcp_cli.HELP, json_flag=False)
    mcp_cli.add_arguments(p)
    p = add("doctor", c.cmd_doctor, "read-only checks that real hosts are ready")
    p.add_argument("target", nargs="?", help="a site or host (default: every host)")
    p.add_argument("--exercise", metavar="SITE", help="run each rung once on HOST for a site in canary_sites, "
                   "each as a request (recorded, approved as the policy says)")
    _as(p)

    p = sub.add_parser("policy", help="policy file tools", description="policy file tools")
    p.set_defaults(handler=_group(p))
    policy_sub = p.add_subparsers(title="policy commands", parser_class=_Parser)
    check = policy_sub.add_parser("check", help="validate a policy file (and an inventory's fit with it)")
    checks.add_policy_check_arguments(check)
    check.set_defaults(handler=checks.cmd_policy_check)

    p = sub.add_parser("config", help="configuration tools", description="configuration tools")
    p.set_defaults(handler=_group(p))
    config_sub = p.add_subparsers(title="config commands", parser_class=_Parser)
    check = config_sub.add_parser(
        "check", help="check the config file, policy, inventory, credentials' presence and the database, talking "
        "to no host"
    )
    _common(check)
    check.set_defaults(handler=checks.cmd_config_check)

    p = sub.add_parser("inventory", help="inventory tools", description="inventory tools")
    p.set_defaults(handler=_group(p))
    inventory_sub = p.add_subparsers(title="inventory commands", parser_class=_Parser)
    discover = inventory_sub.add_parser(
        "discover", help="read a host's IIS sites and print inventory TOML (--json: what the host reported)"
    )
    discover.add_argument("host", help="a [hosts.NAME] of the inventory: how to reach it")
    _common(discover, db=False)
    discover.set_defaults(handler=c.cmd_discover)

    p = sub.add_parser("sim", help="serve a simulated IIS farm on 127.0.0.1 until Ctrl-C")
    p.add_argument("--inventory", help="the inventory to make real")
    p.add_argument("--inventory-out", required=True, help="where to write the farm's client inventory")
    p.add_argument("--hosts", type=int, help="generate a farm of N hosts (for benchmarks)")
    p.add_argument("--control", action="store_true",
                   help="read fault lines on stdin (silent HOST, hang HOST [POOL], heal HOST); EOF stops the farm")
    add_timing_arguments(p)
    p.set_defaults(handler=c.cmd_sim)

    from bot.cli import serve

    p = add("serve", serve.cmd_serve, "serve Slack (HTTP or Socket Mode), the deploy webhook and /healthz",
            json_flag=False)
    serve.add_arguments(p)

    p = sub.add_parser("demo", help="the demo team's story against a simulated IIS farm")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--interactive", action="store_true", help="type chat lines yourself, and break the farm")
    mode.add_argument("--slack", action="store_true",
                      help="the simulated farm behind a real Slack workspace (SLACK_BOT_TOKEN, ...)")
    p.set_defaults(handler=c.cmd_demo)
    return parser

