"""The `aspreset` command. Exit codes: 0 done, 1 execution failed, 2 bad input or configuration,
3 refused by policy, 4 waiting for approval."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.app.dispatch import dispatch, handle_text
from bot.app.errors import AspresetError, ConfigError
from bot.app.incidents import reply_for
from bot.app.service import Service
from bot.app.views import ErrorView, View
from bot.cli import checks
from bot.cli import mcp as mcp_cli
from bot.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DONE, EXIT_FAILED, exit_code_for_view
from bot.cli.render import text as render_text
from bot.config import Settings, load_settings
from bot.logs import configure as configure_logs
from commands.model import Approve, Audit, Command, Deny, ListRequests, Reason, RestartRequest, Status
from commands.reasons import REASON_NAMES, UnknownReason, parse_reason
from commands.rungs import Rung
from policies.identity import Principal, UnknownPerson, principal_named

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    configure_logs()
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last resort: a sentence (with an incident id if unexpected)
        view = reply_for(error, command=args.handler.__name__)
        print(f"aspreset: {view.message}", file=sys.stderr)
        return exit_code_for_view(view)


def _print(text: str) -> None:
    """stdout may be a pipe whose reader left (`aspreset requests | head -1`): stop writing quietly
    and let the command end with its own exit code."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not fail either


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """For the few commands whose reply is not a core view (policy check, doctor)."""
    _print(json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config=args.config, policy=args.policy, inventory=args.inventory, db=getattr(args, "db", None)
    )


def _build(settings: Settings, args: argparse.Namespace, progress: bool = False) -> Runtime:
    from bot.bootstrap import build
    from bot.cli.progress import ProgressBar

    bar = ProgressBar(enabled=False if getattr(args, "json", False) else None) if progress else None
    return build(settings, notifier=bar)


def _principal(args: argparse.Namespace, settings: Settings, service: Service) -> Principal:
    """Whom the command acts as: --as, else the config's `cli_user`, else the login name."""
    name = getattr(args, "as_", None) or settings.cli_user
    if not name:
        return Principal(id=f"cli:{getpass.getuser()}")
    try:
        return principal_named(name, service.policy)
    except UnknownPerson as error:
        raise ConfigError(str(error)) from None


def _run(args: argparse.Namespace, command: Callable[[], Command], *, progress: bool = False,
         origin: str | None = None) -> int:
    """Build the service, dispatch the command as the acting principal, show the view it returns."""
    settings = _settings(args)
    with _build(settings, args, progress) as runtime:
        service = runtime.service
        view = dispatch(command, _principal(args, settings, service), service, origin or _origin())
    return _show(args, view)


def _restart_request(args: argparse.Namespace, plan_only: bool) -> Callable[[], Command]:
    reason: Reason | None = args.reason  # already one of the known reasons (_known_reason)
    return lambda: RestartRequest.from_arguments(
        args.site, scope=args.scope, reason=reason.value if reason else None, note=args.note, changed=args.changed,
        host=args.host, from_host=args.from_host, dry_run=getattr(args, "dry_run", False), plan_only=plan_only,
    )


# ---- commands ---------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    return _run(args, _restart_request(args, plan_only=True))


def cmd_recycle(args: argparse.Namespace) -> int:
    return _run(args, _restart_request(args, plan_only=False), progress=True)


def cmd_approve(args: argparse.Namespace) -> int:
    return _run(args, lambda: Approve(args.request_id), progress=True)


def cmd_deny(args: argparse.Namespace) -> int:
    return _run(args, lambda: Deny(args.request_id, args.reason))


def cmd_status(args: argparse.Namespace) -> int:
    return _run(args, lambda: Status(args.site))


def cmd_requests(args: argparse.Namespace) -> int:
    return _run(args, lambda: ListRequests(state=args.state, site=args.site, limit=args.limit))


def cmd_audit(args: argparse.Namespace) -> int:
    since = _parse_time(args.since) if args.since else None
    return _run(args, lambda: Audit(site=args.site, since=since, request_id=args.request))


def cmd_say(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _build(settings, args) as runtime:
        principal = _principal(args, settings, runtime.service)
        view = handle_text(args.text, principal, runtime.service, f"console:{getpass.getuser()}")
    return _show(args, view)


def _origin() -> str:
    return f"cli:{getpass.getuser()}"  # who typed it, beside whom they act as


def _show(args: argparse.Namespace, view: View) -> int:
    """Print a view as text, or as its own JSON dump with --json; the exit code follows from it."""
    if getattr(args, "json", False):
        _print(view.model_dump_json(indent=2))
    elif isinstance(view, ErrorView):
        print(f"aspreset: {view.message}", file=sys.stderr)
    else:
        _print(render_text(view))
    return exit_code_for_view(view)


def cmd_sim(args: argparse.Namespace) -> int:
    from bot.sim.cli import run
    from bot.sim.timing import timing_from_arguments

    try:
        timing, latency_s = timing_from_arguments(args)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return run(args.inventory, args.inventory_out, args.hosts, timing=timing, latency_s=latency_s,
               control=sys.stdin if args.control else None)


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.app.readiness.doctor import run_doctor
    from bot.bootstrap import build_hosts
    from bot.cli.render import doctor_text, exercise_text

    settings = _settings(args)
    if args.exercise:  # each rung once on a canary site
        from bot.app.readiness.exercise import run_exercise

        if not args.target:
            raise ConfigError("--exercise SITE needs the HOST to run on: aspreset doctor HOST --exercise SITE")
        with build_hosts(settings) as hosts:
            exercised = run_exercise(hosts.inventory, hosts.policy, args.target, args.exercise, hosts.executor)
        _emit(args, exercised.model_dump(mode="json"), exercise_text(exercised))
        return EXIT_DONE if exercised.ok else EXIT_FAILED
    with build_hosts(settings) as hosts:
        report = run_doctor(hosts.inventory, args.target, hosts.executor)
    _emit(args, report.model_dump(mode="json"), doctor_text(report))
    return EXIT_DONE if report.ok else EXIT_FAILED


def cmd_discover(args: argparse.Namespace) -> int:
    from bot.app.results import DiscoverResult, OperationParams
    from bot.bootstrap import build_hosts
    from bot.winrm.discovery import inventory_toml

    settings = _settings(args)
    with build_hosts(settings) as hosts:
        host = hosts.inventory.hosts.get(args.host)
        if host is None:
            raise ConfigError(f"unknown host {args.host!r} in {settings.inventory_path}; "
                              f"add a [hosts.{args.host}] table")
        result = hosts.executor.run(args.host, host, OperationParams(op="discover"))
    assert isinstance(result, DiscoverResult)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(inventory_toml(result, args.host, host.address), end="")
    return EXIT_DONE


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    if not os.environ.get("ASPRESET_LOG_LEVEL"):
        configure_logs("error")  # the story prints what a timeout means; its warning line would repeat it

    return run_demo(interactive=args.interactive, slack=args.slack)


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r}: use an ISO time like 2026-11-24T08:00Z") from None
    if value.tzinfo is None:
        raise ConfigError(f"--since {text!r}: add a timezone, e.g. {text}Z")
    return value


# ---- the parser -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse already exits 2 on bad input; this keeps its message on one clear line."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"aspreset: {message}\n")


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        try:
            settings = load_settings()
            found = f"config: {settings.config_path or 'none found'}\ndatabase: {settings.database_shown}"
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
    parser.add_argument("--host", help="only this host of the site")
    parser.add_argument("--from", dest="from_host", metavar="HOST",
                        help="resume a rollout: this host and the ones after it in the site's order")
    _as(parser)


def _parser() -> argparse.ArgumentParser:
    from bot.sim.timing import add_timing_arguments

    parser = _Parser(prog="aspreset", description="Restart ASP.NET on IIS as narrowly as the job needs.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the version, the config file found and the database it uses, and exit")
    sub = parser.add_subparsers(title="commands", parser_class=_Parser)

    def add(name: str, handler: Handler, help_text: str, **common: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        _common(p, **common)
        return p

    p = add("plan", cmd_plan, "show the narrowest restart and the policy decision; runs nothing")
    _restart_options(p)
    p = add("recycle", cmd_recycle, "request a restart; runs it at once when the policy allows")
    _restart_options(p)
    p.add_argument("--dry-run", action="store_true", help="plan and decide only")
    p = add("status", cmd_status, "pool state, worker PIDs and AppDomain ids per host (read-only)")
    p.add_argument("site")
    p = add("approve", cmd_approve, "approve a waiting request (never your own); runs it when complete")
    p.add_argument("request_id")
    _as(p)
    p = add("deny", cmd_deny, "deny a waiting request, or cancel your own")
    p.add_argument("request_id")
    p.add_argument("--reason")
    _as(p)
    p = add("requests", cmd_requests, "list requests")
    p.add_argument("--state", help="awaiting_approval, running, succeeded, ...")
    p.add_argument("--site")
    p.add_argument("--limit", type=int, default=100)
    p = add("audit", cmd_audit, "the audit trail (never edited)")
    p.add_argument("--site")
    p.add_argument("--since", help="ISO time with timezone, e.g. 2026-11-24T08:00Z")
    p.add_argument("--request", help="only this request id")
    p = add("say", cmd_say, "feed one line of chat text through the bot, as Slack would")
    p.add_argument("text")
    _as(p)
    p = add("mcp", mcp_cli.cmd_mcp, mcp_cli.HELP, json_flag=False)
    mcp_cli.add_arguments(p)
    p = add("doctor", cmd_doctor, "read-only checks that real hosts are ready", db=False)
    p.add_argument("target", nargs="?", help="a site or host (default: every host)")
    p.add_argument("--exercise", metavar="SITE", help="run each rung once on HOST for a site in canary_sites")

    p = sub.add_parser("policy", help="policy file tools")
    policy_sub = p.add_subparsers(title="policy commands", parser_class=_Parser)
    check = policy_sub.add_parser("check", help="validate a policy file (and an inventory's fit with it)")
    checks.add_policy_check_arguments(check)
    check.set_defaults(handler=checks.cmd_policy_check)

    p = sub.add_parser("config", help="configuration tools")
    config_sub = p.add_subparsers(title="config commands", parser_class=_Parser)
    check = config_sub.add_parser(
        "check", help="check the config file, policy, inventory, credentials' presence and the database, talking "
        "to no host"
    )
    _common(check)
    check.set_defaults(handler=checks.cmd_config_check)

    p = sub.add_parser("inventory", help="inventory tools")
    inventory_sub = p.add_subparsers(title="inventory commands", parser_class=_Parser)
    discover = inventory_sub.add_parser(
        "discover", help="read a host's IIS sites and print inventory TOML (--json: what the host reported)"
    )
    discover.add_argument("host", help="a [hosts.NAME] of the inventory: how to reach it")
    _common(discover, db=False)
    discover.set_defaults(handler=cmd_discover)

    p = sub.add_parser("sim", help="serve a simulated IIS farm on 127.0.0.1 until Ctrl-C")
    p.add_argument("--inventory", help="the inventory to make real")
    p.add_argument("--inventory-out", required=True, help="where to write the farm's client inventory")
    p.add_argument("--hosts", type=int, help="generate a farm of N hosts (for benchmarks)")
    p.add_argument("--control", action="store_true",
                   help="read fault lines on stdin (silent HOST, hang HOST [POOL], heal HOST); EOF stops the farm")
    add_timing_arguments(p)
    p.set_defaults(handler=cmd_sim)

    from bot.cli import serve

    p = add("serve", serve.cmd_serve, "serve Slack (HTTP or Socket Mode), the deploy webhook and /healthz",
            json_flag=False)
    serve.add_arguments(p)

    p = sub.add_parser("demo", help="the demo team's story against a simulated IIS farm")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--interactive", action="store_true", help="type chat lines yourself, and break the farm")
    mode.add_argument("--slack", action="store_true",
                      help="the simulated farm behind a real Slack workspace (SLACK_BOT_TOKEN, ...)")
    p.set_defaults(handler=cmd_demo)
    return parser

