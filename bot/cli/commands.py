"""The `aspreset` command. Exit codes: 0 done, 1 execution failed, 2 bad input or configuration,
3 refused by policy, 4 waiting for approval."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from bot.app.dispatch import dispatch, handle_text
from bot.app.errors import ConfigError
from bot.app.incidents import reply_for
from bot.app.ports import Notifier
from bot.app.service import Service
from bot.app.views import ErrorView, PlanView, View
from bot.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DONE, EXIT_FAILED, EXIT_WAITING, exit_code_for_view
from bot.cli.render import CHAT, SHELL
from bot.cli.render import text as render_text
from bot.config import Settings, load_settings
from bot.logs import configure as configure_logs
from commands.model import Approve, Audit, Command, Deny, ListRequests, Reason, RestartRequest, Status
from policies.identity import Principal, UnknownPerson, principal_named
from policies.rollout import PROD_ENVIRONMENTS

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    from bot.cli.arguments import build_parser

    configure_logs()
    parser = build_parser()
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


def _build(settings: Settings, notifier: Notifier | None = None) -> Runtime:
    from bot.bootstrap import build

    return build(settings, notifier=notifier)


def _principal(args: argparse.Namespace, settings: Settings, service: Service) -> Principal:
    """Whom the command acts as: --as, else the config's `cli_user`, else the login name."""
    name = getattr(args, "as_", None) or settings.cli_user
    if not name:
        return Principal(id=f"cli:{getpass.getuser()}")
    try:
        return principal_named(name, service.policy)
    except UnknownPerson as error:
        raise ConfigError(str(error)) from None


def _run(args: argparse.Namespace, command: Callable[[], Command], *, origin: str | None = None) -> int:
    """Build the service, dispatch the command as the acting principal, show the view it returns."""
    settings = _settings(args)
    with _build(settings) as runtime:
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
    return _run_restart(args, _restart_request(args, plan_only=False), confirm=not (args.yes or args.dry_run))


def cmd_approve(args: argparse.Namespace) -> int:
    from bot.cli.approval import confirmed_in_person, os_user

    def in_person(service: Service, principal: Principal) -> Principal:
        # an assistant's request: the approver in person, on this terminal (the prompt goes to stderr
        # so that --json stays JSON)
        return confirmed_in_person(service, principal, Approve(args.request_id).request_id, stdin=sys.stdin,
                                   stdout=sys.stderr, user=os_user())

    return _run_restart(args, lambda: Approve(args.request_id), verify=in_person)


def _run_restart(args: argparse.Namespace, command: Callable[[], Command], *, confirm: bool = False,
                 verify: Callable[[Service, Principal], Principal] | None = None) -> int:
    """A command that may restart hosts: in a terminal a prod restart is confirmed first; Ctrl-C and
    SIGTERM stop it as bot/cli/interrupt.py says."""
    from bot.cli.interrupt import ABANDON_S, EXIT_INTERRUPTED, stop_gracefully
    from bot.cli.progress import ProgressBar

    settings = _settings(args)
    bar = ProgressBar(enabled=False if args.json else None)
    with _build(settings, bar) as runtime:
        service = runtime.service
        principal = _principal(args, settings, service)
        if verify is not None:
            principal = verify(service, principal)
        if confirm and not _confirmed(args, command, principal, service):
            print("aspreset: nothing was run", file=sys.stderr)
            return EXIT_FAILED
        with stop_gracefully(service.stop) as interrupts:
            try:
                view = dispatch(command, principal, service, _origin())
            except KeyboardInterrupt:  # the second signal: the request is recorded interrupted; stop waiting
                bar.close()
                site = getattr(args, "site", None) or "SITE"
                print("aspreset: stopped waiting; the request is recorded interrupted with what is known "
                      f"(`aspreset requests --state interrupted`); check `aspreset status {site}`",
                      file=sys.stderr, flush=True)
                sys.stdout.flush()
                runtime.abandon_hosts(ABANDON_S)  # the shells of the hosts left running are deleted, if quick
                os._exit(EXIT_INTERRUPTED)  # the hosts' threads would otherwise be waited for at exit
            finally:
                bar.close()
    code = _show(args, view)
    return EXIT_INTERRUPTED if interrupts.count else code


def _confirmed(args: argparse.Namespace, command: Callable[[], Command], principal: Principal,
               service: Service) -> bool:
    """A prod restart typed in a terminal shows its plan and asks first (--yes skips)."""
    if args.json or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return True
    site = service.inventory.sites.get(args.site)
    if site is None or site.environment.lower() not in PROD_ENVIRONMENTS:
        return True
    planned = dispatch(lambda: replace(cast(RestartRequest, command()), plan_only=True), principal, service,
                       _origin())
    if not isinstance(planned, PlanView) or planned.decision.outcome != "allow":
        return True  # refused or waiting for approval: nothing restarts now
    _print(render_text(planned))
    try:
        answer = input(f"Restart {args.site} ({site.environment}) now? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_deny(args: argparse.Namespace) -> int:
    return _run(args, lambda: Deny(args.request_id, args.reason))


def cmd_status(args: argparse.Namespace) -> int:
    return _run(args, lambda: Status(args.site))


def cmd_requests(args: argparse.Namespace) -> int:
    return _run(args, lambda: ListRequests(state=args.state, site=args.site, limit=args.limit))


def cmd_audit(args: argparse.Namespace) -> int:
    since = _parse_time(args.since) if args.since else None
    return _run(args, lambda: Audit(site=args.site, since=since, request_id=args.request))


def cmd_watch(args: argparse.Namespace) -> int:
    from bot.cli.watch import run

    with _build(_settings(args)) as runtime:
        return run(args, runtime.service)


def cmd_say(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _build(settings) as runtime:
        principal = _principal(args, settings, runtime.service)
        view = handle_text(args.text, principal, runtime.service, f"console:{getpass.getuser()}")
    return _show(args, view, prefix=CHAT)


def _origin() -> str:
    return f"cli:{getpass.getuser()}"  # who typed it, beside whom they act as


def _show(args: argparse.Namespace, view: View, prefix: str = SHELL) -> int:
    """Print a view as text, or as its own JSON dump with --json; the exit code follows from it."""
    if getattr(args, "json", False):
        _print(view.model_dump_json(indent=2))
    elif isinstance(view, ErrorView):
        print(f"aspreset: {view.message}", file=sys.stderr)
    elif sys.stdout.isatty():
        _print_coloured(render_text(view, prefix))
    else:
        _print(render_text(view, prefix))
    return exit_code_for_view(view)


def _print_coloured(text: str) -> None:
    """In a terminal that supports it (rich honours NO_COLOR and TERM=dumb): outcomes in colour."""
    from rich.console import Console
    from rich.text import Text

    shown = Text(text)
    shown.highlight_regex(r"\b(succeeded|Allowed)\b", "green")
    shown.highlight_regex(r"\b(failed|partially_failed|interrupted|Refused)\b", "bold red")
    shown.highlight_regex(r"\b(awaiting_approval|Needs \d+ approval\(s\))", "yellow")
    Console(highlight=False, soft_wrap=True).print(shown)


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
        with _build(settings) as runtime:  # each rung is a request: planned, decided, recorded, approved
            service = runtime.service
            exercised = run_exercise(service.requests, _principal(args, settings, service), args.target,
                                     args.exercise)
        _emit(args, exercised.model_dump(mode="json"), exercise_text(exercised))
        return EXIT_WAITING if exercised.waiting else EXIT_DONE if exercised.ok else EXIT_FAILED
    with build_hosts(settings) as hosts:
        report = run_doctor(hosts.inventory, args.target, hosts.executor)
    where = {"config": str(settings.config_path or "none found"), "database": settings.database_shown}
    _emit(args, {**report.model_dump(mode="json"), **where},
          f"{doctor_text(report)}\nconfig: {where['config']}\ndatabase: {where['database']}")
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
