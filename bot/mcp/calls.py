"""The tools' commands: a tool's arguments -> a core Command, which the server hands to the core's
dispatcher. Building happens inside `dispatch`, so an input over the limits is answered like any
other bad input. A note that asks for a server-wide action makes the command that action is (a
ServerWideRequest, which the core refuses with the narrow alternative)."""

from __future__ import annotations

from collections.abc import Callable

from bot.mcp.notes import check_note
from commands.model import (
    Cancel,
    Command,
    ListIncidents,
    ListRequests,
    ListSites,
    RestartRequest,
    ShowRequest,
    Status,
)

Make = Callable[[], Command]


def list_sites() -> Make:
    return ListSites


def site_status(site: str) -> Make:
    return lambda: Status(site=site)


def restart(
    site: str, changed: list[str] | None, reason: str | None, note: str | None, scope: str | None, *, plan_only: bool
) -> Make:
    """`reason` is one of the known reasons (the input schema's enum); `note` the free text."""
    def make() -> Command:
        server_wide = check_note(note)
        if server_wide is not None:
            return server_wide
        return RestartRequest.from_arguments(site, scope=scope, reason=reason, note=note, changed=changed,
                                             plan_only=plan_only)

    return make


def get_request(request_id: str) -> Make:
    return lambda: ShowRequest(request_id)


def list_requests(site: str | None, state: str | None, limit: int = 50) -> Make:
    return lambda: ListRequests(state=state, site=site, limit=limit)


def list_incidents(site: str | None, open_only: bool, limit: int = 50) -> Make:
    return lambda: ListIncidents(site=site, open_only=open_only, limit=limit)


def cancel_request(request_id: str) -> Make:
    return lambda: Cancel(request_id)
