"""The tools' commands: a tool's arguments -> a core Command, which the server hands to the core's
dispatcher. Building happens inside `dispatch`, so an input over the limits is answered like any
other bad input. Also: where a person approves a waiting request."""

from __future__ import annotations

from collections.abc import Callable

from bot.app.service import Service
from commands.model import Command, ListRequests, ListSites, RestartRequest, ShowRequest, Status

WhereApproved = Callable[[Service, str, str], str]
Make = Callable[[], Command]


def approve_with_cli(service: Service, site: str, request_id: str) -> str:
    """Where a person approves when no chat front end posts the request."""
    return f"a person approves it on the bot's machine with `aspreset approve {request_id} --as PERSON`"


def approve_in_slack(service: Service, site: str, request_id: str) -> str:
    """Where a person approves when the Slack front end posts approval requests to the site's channel."""
    entry = service.inventory.sites.get(site)
    if entry is None or not entry.channel:
        return approve_with_cli(service, site, request_id)
    return (f"the approval request was posted in the site's Slack channel <#{entry.channel}>; "
            "a person approves it there")


def list_sites() -> Make:
    return ListSites


def site_status(site: str) -> Make:
    return lambda: Status(site=site)


def plan_restart(site: str, changed: list[str] | None, reason: str | None, scope: str | None) -> Make:
    return lambda: RestartRequest.from_arguments(site, scope=scope, reason=reason, changed=changed, plan_only=True)


def request_restart(site: str, reason: str, changed: list[str] | None, scope: str | None) -> Make:
    return lambda: RestartRequest.from_arguments(site, scope=scope, reason=reason, changed=changed)


def get_request(request_id: str) -> Make:
    return lambda: ShowRequest(request_id)


def list_requests(site: str | None, state: str | None, limit: int = 50) -> Make:
    return lambda: ListRequests(state=state, site=site, limit=limit)
