"""The tools' bodies: arguments -> a core command -> the core's dispatcher -> a view. Synchronous;
the server runs them in a worker thread. Reading one request or a list has no chat command, so
those two call the service's read use cases under the same error handling as `dispatch`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.app.dispatch import dispatch
from bot.app.errors import AspresetError
from bot.app.incidents import error_view, incident_view
from bot.app.service import Service
from bot.app.views import RequestListView, View
from commands.model import ListSites, Reason, RestartRequest, Status
from commands.rungs import Rung
from policies.identity import Principal

WhereApproved = Callable[[Service, str, str], str]
T = TypeVar("T")


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


def restart_request(
    site: str, changed: list[str] | None, reason: str | None, scope: str | None, plan_only: bool
) -> RestartRequest:
    known = {r.value: r for r in Reason}
    chosen = known.get(reason.strip().lower()) if reason else None
    return RestartRequest(
        site=site,
        scope=Rung(scope) if scope else None,
        reason=chosen,
        note=reason if reason and chosen is None else None,
        changed=tuple(changed or ()),
        plan_only=plan_only,
    )


def list_sites(service: Service, principal: Principal) -> View:
    return dispatch(ListSites(), principal, service, principal.id)


def site_status(service: Service, principal: Principal, site: str) -> View:
    return dispatch(Status(site=site), principal, service, principal.id)


def plan_restart(
    service: Service, principal: Principal, site: str, changed: list[str] | None, reason: str | None,
    scope: str | None,
) -> View:
    command = restart_request(site, changed, reason, scope, plan_only=True)
    return dispatch(command, principal, service, principal.id)


def request_restart(
    service: Service, principal: Principal, site: str, reason: str, changed: list[str] | None, scope: str | None
) -> View:
    command = restart_request(site, changed, reason, scope, plan_only=False)
    return dispatch(command, principal, service, principal.id)


def get_request(service: Service, principal: Principal, request_id: str) -> View:
    return _guarded(lambda: service.get_request(request_id), "get_request", principal)


def list_requests(
    service: Service, principal: Principal, site: str | None, state: str | None, limit: int = 50
) -> View | RequestListView:
    return _guarded(lambda: service.list_requests(state=state, site=site, limit=limit), "list_requests", principal)


def _guarded(read: Callable[[], T], what: str, principal: Principal) -> T | View:
    try:
        return read()
    except AspresetError as error:
        return error_view(error)
    except Exception as error:  # the last resort, as in dispatch
        return incident_view(error, command=what, principal=principal.id)
