"""The `aspreset` command. Exit codes: 0 done, 1 execution failed, 2 bad input or configuration,
3 refused by policy, 4 waiting for approval."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.chat import EXIT_BAD_INPUT, EXIT_DONE, EXIT_REFUSED, Reply, handle_text
from bot.config import Settings, load_settings
from bot.errors import AspresetError, ConfigError
from bot.logs import configure as configure_logs
from bot.render import plan_json, plan_text
from bot.service import Service
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
        _error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> None:
    print(f"aspreset: {message}", file=sys.stderr)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config=args.config, policy=args.policy, inventory=args.inventory, db=getattr(args, "db", None)
    )


def _service(args: argparse.Namespace) -> Service:
    settings = _settings(args)
    return Service(settings.policy(), settings.inventory())


def _principal(args: argparse.Namespace, service: Service, settings: Settings | None = None) -> Principal:
    name = getattr(args, "as_", None) or (settings.cli_user if settings else None)
    if name:
        return service.principal(name)
    import getpass

    return Principal(id=f"cli:{getpass.getuser()}")


def _restart_request(args: argparse.Namespace, plan_only: bool) -> RestartRequest:
    reason: Reason | None = None
    note: str | None = None
    if args.reason:
        known = {r.value: r for r in Reason}
        reason = known.get(args.reason.lower())
        note = None if reason else args.reason
    return RestartRequest(
        site=args.site,
        scope=Rung(args.scope) if args.scope else None,
        reason=reason,
        note=note,
        changed=tuple(args.changed or ()),
        host=args.host,
        dry_run=getattr(args, "dry_run", False),
        plan_only=plan_only,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    service = Service(settings.policy(), settings.inventory())
    planned = service.plan(_restart_request(args, plan_only=True), _principal(args, service, settings))
    _emit(args, plan_json(planned), plan_text(planned))
    return EXIT_REFUSED if isinstance(planned.decision, Refuse) else EXIT_DONE


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
    summary = {
        "file": args.file,
        "valid": not problems,
        "rules": [rule.name for rule in policy.rules],
        "people": sorted(policy.people),
        "groups": {name: len(members) for name, members in policy.groups.items()},
        "problems": problems,
    }
    empty = [name for name, members in policy.groups.items() if not members]
    lines = [f"{args.file}: valid, {len(policy.rules)} rules, {len(policy.people)} people"]
    lines += [f"  note: group {name!r} is empty; rules that need its approval refuse" for name in empty]
    lines += [f"  problem: {p}" for p in problems]
    _emit(args, summary, "\n".join(lines))
    return EXIT_BAD_INPUT if problems else EXIT_DONE


def cmd_say(args: argparse.Namespace) -> int:
    settings = _settings(args)
    service = Service(settings.policy(), settings.inventory())
    reply: Reply = handle_text(args.text, _principal(args, service, settings), service)
    _emit(args, {"reply": reply.text, "exit_code": reply.exit_code, **reply.data}, reply.text)
    return reply.exit_code


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo()


def _common(parser: argparse.ArgumentParser, json_flag: bool = True) -> None:
    parser.add_argument("--config", help="aspreset.toml (default: $ASPRESET_CONFIG, then ./aspreset.toml)")
    parser.add_argument("--policy", help="policy TOML file (overrides the config file)")
    parser.add_argument("--inventory", help="inventory TOML file (overrides the config file)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def _restart_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site")
    parser.add_argument("--scope", choices=[r.value for r in Rung])
    parser.add_argument("--reason", help="hung, locked-file, gac, memory, config, native-module, or a note")
    parser.add_argument("--changed", nargs="+", metavar="PATH", help="files the deploy changed")
    parser.add_argument("--host", help="only this host of the site")
    parser.add_argument("--as", dest="as_", metavar="PERSON", help="act as this [people] alias or Slack ID")


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad input already; this keeps its message on one clear line."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"aspreset: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aspreset", description="Restart ASP.NET on IIS as narrowly as the job needs.")
    sub = parser.add_subparsers(title="commands", parser_class=_Parser)

    p = sub.add_parser("plan", help="show the narrowest restart and the policy decision; runs nothing")
    _restart_options(p)
    _common(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("policy", help="policy file tools")
    policy_sub = p.add_subparsers(title="policy commands", parser_class=_Parser)
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.add_argument("--inventory")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=cmd_policy_check)

    p = sub.add_parser("say", help="feed one line of chat text through the bot, as Slack would")
    p.add_argument("text")
    p.add_argument("--as", dest="as_", metavar="PERSON")
    _common(p)
    p.set_defaults(handler=cmd_say)

    p = sub.add_parser("demo", help="walk through the product against a simulated IIS farm")
    p.set_defaults(handler=cmd_demo)
    return parser


if __name__ == "__main__":
    sys.exit(main())
