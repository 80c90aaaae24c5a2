"""Parsed command -> use case -> view: the one dispatcher under every front end (CLI `say`, the chat
console, Slack, MCP). Front ends turn their medium into a Command (or chat text) and render the
view they get back; none of them repeats this table."""

from __future__ import annotations

from bot.app.errors import AspresetError
from bot.app.incidents import error_view, incident_view
from bot.app.service import Service
from bot.app.views import ErrorView, HelpView, View
from commands.help import help_text
from commands.model import Approve, Command, Deny, Help, ListSites, RestartRequest, ServerWideRequest, Status
from commands.parser import ParseError, parse
from policies.identity import Principal


def handle_text(text: str, principal: Principal, service: Service, origin: str) -> View:
    """One line of chat text, exactly as Slack's `/recycle` hands it over."""
    try:
        command = parse(text)
    except ParseError as error:
        return ErrorView(code="bad_input", message=f"{error.message}. Try `/recycle help`.")
    return dispatch(command, principal, service, origin)


def dispatch(command: Command, principal: Principal, service: Service, origin: str) -> View:
    """Run the command's use case. Known errors become an ErrorView with their stable code; an
    unexpected one becomes an incident (logged in full, shown as one sentence)."""
    try:
        return _run(command, principal, service, origin)
    except AspresetError as error:
        return error_view(error)
    except Exception as error:  # the last resort: never a traceback to the person
        return incident_view(error, command=type(command).__name__, principal=principal.id)


def _run(command: Command, principal: Principal, service: Service, origin: str) -> View:
    if isinstance(command, ServerWideRequest):
        return service.refuse_server_wide(command)
    if isinstance(command, Help):
        return HelpView(topic=command.topic, text=help_text(command.topic))
    if isinstance(command, ListSites):
        return service.sites()
    if isinstance(command, Status):
        return service.status(command.site)
    if isinstance(command, Approve):
        return service.approve(command.request_id, principal)
    if isinstance(command, Deny):
        return service.deny(command.request_id, principal, command.reason)
    assert isinstance(command, RestartRequest)
    if command.plan_only or command.dry_run:
        return service.plan(command, principal)
    return service.request(command, principal, origin)
