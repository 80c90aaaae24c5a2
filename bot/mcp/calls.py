"""The tools' bodies: arguments -> a core command -> the core's dispatcher -> a view. Synchronous;
the server runs them in a worker thread. Reading one request or a list, and cancelling one, have no
chat command, so those call the service's use cases (the server turns their errors into views)."""

from __future__ import annotations

from bot.app.dispatch import dispatch
from bot.app.errors import NotAllowed
from bot.app.service import Service
from bot.app.views import RequestListView, View
from bot.mcp.notes import NoteRefused, check_note
from commands.model import ListSites, Reason, RestartRequest, Status
from commands.rungs import Rung
from policies.identity import Principal


def restart_request(
    site: str, changed: list[str] | None, reason: str | None, note: str | None, scope: str | None, plan_only: bool
) -> RestartRequest:
    """The core's command; raises NoteRefused for a note that is not one line or asks for more."""
    check_note(note)
    return RestartRequest(
        site=site,
        scope=Rung(scope) if scope else None,
        reason=Reason(reason) if reason else None,
        note=note,
        changed=tuple(changed or ()),
        plan_only=plan_only,
    )


def list_sites(service: Service, principal: Principal) -> View:
    return dispatch(ListSites(), principal, service, principal.id)


def site_status(service: Service, principal: Principal, site: str) -> View:
    return dispatch(Status(site=site), principal, service, principal.id)


def plan_restart(
    service: Service, principal: Principal, site: str, changed: list[str] | None, reason: str | None,
    note: str | None, scope: str | None,
) -> View:
    return _restart(service, principal, restart_request(site, changed, reason, note, scope, plan_only=True))


def request_restart(
    service: Service, principal: Principal, site: str, reason: str | None, note: str, changed: list[str] | None,
    scope: str | None,
) -> View:
    return _restart(service, principal, restart_request(site, changed, reason, note, scope, plan_only=False))


def _restart(service: Service, principal: Principal, command: RestartRequest) -> View:
    return dispatch(command, principal, service, principal.id)


def refused_note(service: Service, refused: NoteRefused) -> View | None:
    """A note asking for a server-wide action answers as the server-wide request itself: refused,
    with the narrow alternative. None for a note refused for its form."""
    if refused.server_wide is None:
        return None
    return service.refuse_server_wide(refused.server_wide)


def get_request(service: Service, principal: Principal, request_id: str) -> View:
    return service.get_request(request_id)


def list_requests(
    service: Service, principal: Principal, site: str | None, state: str | None, limit: int = 50
) -> RequestListView:
    return service.list_requests(state=state, site=site, limit=limit)


def cancel_request(service: Service, principal: Principal, request_id: str) -> View:
    """The assistant's own request, still waiting (or approved and not started), is cancelled;
    anyone else's is not its to cancel."""
    request = service.store.get(request_id)
    if request.requester != principal.id:
        raise NotAllowed(f"{request_id} was asked for by {service.display(request.requester)}, not by you; "
                         "you can cancel only your own requests")
    return service.deny(request_id, principal, None)
