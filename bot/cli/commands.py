"""The `aspreset` command. Exit codes: 0 done, 1 execution failed, 2 bad input or configuration,
3 refused by policy, 4 waiting for approval."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.app.errors import AspresetError, ConfigError
from bot.app.records import RequestState
from bot.app.results import StatusResult
from bot.app.service import EXIT_BAD_INPUT, EXIT_DONE, EXIT_FAILED, EXIT_REFUSED, Outcome, Service
from bot.chat import Reply, handle_text
from bot.cli import mcp as mcp_cli
from bot.cli.exit_codes import exit_code_for_error
from bot.cli.render import outcome_json, outcome_text, plan_json, plan_text, status_json, status_text
from bot.config import Settings, load_settings
from bot.logs import configure as configure_logs
from commands.model import Reason, RestartRequest
from commands.rungs import Rung
from policies.decision import Refuse
from policies.files import FileError, load_inventory, load_policy
from policies.identity import Principal

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
    except AspresetError as error:
        print(f"aspreset: {error}", file=sys.stderr)
        return exit_code_for_error(error)
    except KeyboardInterrupt:
        return 130


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config=args.config, policy=args.policy, inventory=args.inventory, db=getattr(args, "db", None)
    )


def _full_service(args: argparse.Namespace) -> Service:
    from bot.bootstrap import build

    return build(_settings(args))


def _principal(args: argparse.Namespace, service: Service) -> Principal:
    name = getattr(args, "as_", None) or service.cli_user
    if name:
        return service.principal(name)
    return Principal(id=f"cli:{getpass.getuser()}")


def _restart_request(args: argparse.Namespace, plan_only: bool) -> RestartRequest:
    known = {r.value: r for r in Reason}
    reason = known.get(args.reason.lower()) if args.reason else None
    return RestartRequest(
        site=args.site,
        scope=Rung(args.scope) if args.scope else None,
        reason=reason,
        note=args.reason if args.reason and reason is None else None,
        changed=tuple(args.changed or ()),
        host=args.host,
        dry_run=getattr(args, "dry_run", False),
        plan_only=plan_only,
    )


# ---- commands ---------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    service = _full_service(args)
    planned = service.plan(_restart_request(args, plan_only=True), _principal(args, service))
    _emit(args, plan_json(planned), plan_text(planned, service.display))
    return EXIT_REFUSED if isinstance(planned.decision, Refuse) else EXIT_DONE


def cmd_recycle(args: argparse.Namespace) -> int:
    service = _full_service(args)
    origin = f"cli:{getpass.getuser()}"  # who typed it, beside whom they act as
    return _report(args, service, service.request(_restart_request(args, False), _principal(args, service), origin))


def cmd_approve(args: argparse.Namespace) -> int:
    service = _full_service(args)
    return _report(args, service, service.approve(args.request_id, _principal(args, service)))


def cmd_deny(args: argparse.Namespace) -> int:
    service = _full_service(args)
    return _report(args, service, service.deny(args.request_id, _principal(args, service), args.reason))


def _report(args: argparse.Namespace, service: Service, outcome: Outcome) -> int:
    _emit(args, outcome_json(outcome), outcome_text(outcome, service.display))
    return outcome.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    service = _full_service(args)
    results = service.status(args.site)
    _emit(args, status_json(args.site, results), status_text(args.site, results))
    return EXIT_DONE if all(isinstance(r, StatusResult) and r.ok for _, r in results) else EXIT_FAILED


def cmd_requests(args: argparse.Namespace) -> int:
    service = _full_service(args)
    service.store.expire_due(service.clock())
    try:
        state = RequestState(args.state) if args.state else None
    except ValueError:
        raise ConfigError(f"--state {args.state!r}: use one of {', '.join(s.value for s in RequestState)}") from None
    rows = service.store.list(state=state, site=args.site, limit=args.limit)
    lines = [
        f"{r.id}  {r.state.value:<17} {r.site:<16} {r.rung.value:<9} {service.display(r.requester)}  "
        f"{r.created_at:%Y-%m-%d %H:%M}Z"
        for r in rows
    ]
    _emit(args, [r.as_dict() for r in rows], "\n".join(lines) or "no requests")
    return EXIT_DONE


def cmd_audit(args: argparse.Namespace) -> int:
    service = _full_service(args)
    since = _parse_time(args.since) if args.since else None
    events = service.store.audit(site=args.site, since=since, request_id=args.request)
    lines = [
        f"{e.at:%Y-%m-%d %H:%M:%S}Z  {e.request_id or '-':<9} {e.action.value:<11} "
        f"{(e.state_from or '-')}->{(e.state_to or '-')}  {e.site or ''} {e.rung or ''}  by {service.display(e.actor)}"
        for e in events
    ]
    _emit(args, [e.as_dict() for e in events], "\n".join(lines) or "no events")
    return EXIT_DONE


def cmd_say(args: argparse.Namespace) -> int:
    service = _full_service(args)
    reply: Reply = handle_text(args.text, _principal(args, service), service, origin=f"console:{getpass.getuser()}")
    _emit(args, {"reply": reply.text, "exit_code": reply.exit_code, **reply.data}, reply.text)
    return reply.exit_code


def cmd_policy_check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
        inventory = load_inventory(args.inventory) if args.inventory else None
    except FileError as error:
        raise ConfigError(str(error)) from None
    problems: list[str] = []
    if inventory is not None:
        environments = {site.environment for site in inventory.sites.values()}
        for env in sorted(set(policy.environments) - environments):
            problems.append(f"environments.{env}: no site in {args.inventory} has this environment")
    empty = [name for name, members in policy.groups.items() if not members]
    summary = {
        "file": args.file,
        "valid": not problems,
        "rules": [rule.name for rule in policy.rules],
        "people": sorted(policy.people),
        "empty_groups": empty,
        "problems": problems,
    }
    lines = [f"{args.file}: {'valid' if not problems else 'INVALID'}, {len(policy.rules)} rules, "
             f"{len(policy.people)} people"]
    lines += [f"  note: group {name!r} is empty; rules that need its approval refuse" for name in empty]
    lines += [f"  problem: {p}" for p in problems]
    _emit(args, summary, "\n".join(lines))
    return EXIT_BAD_INPUT if problems else EXIT_DONE


def cmd_sim(args: argparse.Namespace) -> int:
    from bot.sim.cli import run

    return run(args.inventory, args.inventory_out, args.hosts)


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.bootstrap import executor_for
    from bot.doctor import run_doctor

    settings = _settings(args)
    report = run_doctor(settings.inventory(), args.target, executor_for(settings))
    _emit(args, report.to_json(), report.text())
    return EXIT_DONE if report.ok else EXIT_FAILED


def cmd_discover(args: argparse.Namespace) -> int:
    from bot.app.results import DiscoverResult, OperationParams
    from bot.bootstrap import executor_for
    from bot.winrm.discovery import inventory_toml

    settings = _settings(args)
    inventory = settings.inventory()
    host = inventory.hosts.get(args.host)
    if host is None:
        raise ConfigError(f"unknown host {args.host!r} in {settings.inventory_path}; add a [hosts.{args.host}] table")
    result = executor_for(settings).run(args.host, host, OperationParams(op="discover"))
    assert isinstance(result, DiscoverResult)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(inventory_toml(result, args.host, host.address), end="")
    return EXIT_DONE


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo()


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


def _restart_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site")
    parser.add_argument("--scope", choices=[r.value for r in Rung])
    parser.add_argument("--reason", help="hung, locked-file, gac, memory, config, native-module, or a note")
    parser.add_argument("--changed", nargs="+", metavar="PATH", help="files the deploy changed")
    parser.add_argument("--host", help="only this host of the site")
    _as(parser)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aspreset", description="Restart ASP.NET on IIS as narrowly as the job needs.")
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

    p = sub.add_parser("policy", help="policy file tools")
    policy_sub = p.add_subparsers(title="policy commands", parser_class=_Parser)
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.add_argument("--inventory")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=cmd_policy_check)

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
    p.set_defaults(handler=cmd_sim)

    p = sub.add_parser("demo", help="the demo team's story against a simulated IIS farm")
    p.set_defaults(handler=cmd_demo)
    return parser

