"""Parsed command -> use case -> view: the one dispatcher under every front end (the CLI, the chat
console, Slack, MCP). Front ends turn their medium into a Command (or chat text) and render the
view they get back; `HANDLERS` is the one table from command type to use case, and `dispatch` is
where the last-resort guard (`incidents.reply_for`) turns any error into the view a person sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app.incidents import reply_for
from bot.app.service import Service
from bot.app.views import ErrorView, HelpView, View
from commands.help import help_text
from commands.model import (
    Approve,
    Audit,
    Cancel,
    Command,
    Deny,
    Help,
    ListIncidents,
    ListRequests,
    ListSites,
    RestartRequest,
    ServerWideRequest,
    ShowRequest,
    Status,
)
from commands.parser import ParseError, parse
from policies.identity import Principal

Handler = Callable[[Any, Principal, Service, str], View]


def _restart(command: RestartRequest, principal: Principal, service: Service, origin: str) -> View:
    if command.plan_only or command.dry_run:
        return service.requests.plan(command, principal)
    return service.requests.request(command, principal, origin)


HANDLERS: dict[type, Handler] = {
    RestartRequest: _restart,
    ServerWideRequest: lambda command, _who, service, _origin: service.requests.refuse_server_wide(command),
    Approve: lambda command, who, service, _origin: service.requests.approve(command.request_id, who),
    Deny: lambda command, who, service, _origin: service.requests.deny(command.request_id, who, command.reason),
    Cancel: lambda command, who, service, _origin: service.requests.cancel(command.request_id, who),
    Status: lambda command, _who, service, _origin: service.queries.status(command.site),
    ListSites: lambda _command, _who, service, _origin: service.queries.sites(),
    ShowRequest: lambda command, _who, service, _origin: service.queries.get_request(command.request_id),
    ListRequests: lambda command, _who, service, _origin: service.queries.list_requests(
        command.state, command.site, command.limit),
    Audit: lambda command, _who, service, _origin: service.queries.audit(
        command.site, command.since, command.request_id),
    Help: lambda command, _who, _service, _origin: HelpView(topic=command.topic, text=help_text(command.topic)),
    ListIncidents: lambda command, _who, service, _origin: service.queries.list_incidents(
        command.site, command.open_only, command.limit),
}
"""Every Command type has exactly one entry (a test holds the table to `commands.model.Command`)."""


def handle_text(text: str, principal: Principal, service: Service, origin: str) -> View:
    """One line of chat text, exactly as Slack's `/recycle` hands it over."""
    try:
        command = parse(text)
    except ParseError as error:
        return ErrorView(code="bad_input", message=f"{error.message}. Try `/recycle help`.")
    except Exception as error:
        return reply_for(error, command="parse", principal=principal.id)
    return dispatch(command, principal, service, origin)


def dispatch(command: Command | Callable[[], Command], principal: Principal, service: Service, origin: str) -> View:
    """Run the command's use case. `command` may also be a function that builds it from a front end's
    arguments, so that an input over the limits is answered here, like any other bad input."""
    name = type(command).__name__
    try:
        service.refresh()  # the policy and inventory files as they are now (a broken one fails closed)
        built = command() if callable(command) else command
        name = type(built).__name__
        return HANDLERS[type(built)](built, principal, service, origin)
    except Exception as error:  # the last resort: never a traceback to the person
        return reply_for(error, command=name, principal=principal.id)
