"""What the Notifier port hears of a request: one RequestEvent per step, each carrying the request's
view as it stands. A front end that cannot hear is logged and never stops a restart half-way."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from bot.app.events import EventKind, RequestEvent
from bot.app.ports import Notifier
from bot.app.present import request_view
from bot.app.records import Request
from bot.app.verification import HostOutcome
from bot.app.views import HostResultView, RequestView
from policies.planner import Plan
from policies.policy import Policy

log = structlog.get_logger("aspreset.service")

HostProgress = Callable[[str, str, HostOutcome | None], None]


class Notifications:
    def __init__(self, notifier: Notifier, policy: Policy) -> None:
        self.notifier = notifier
        self.policy = policy

    def view(self, req: Request, message: str = "", *, ran_now: bool = False) -> RequestView:
        return request_view(req, self.policy, message, ran_now=ran_now)

    def tell(self, kind: EventKind, req: Request, by: str | None = None) -> None:
        self.notify(RequestEvent(kind=kind, request_id=req.id, site=req.site, rung=req.rung.value, by=by,
                                 state=req.state.value, request=self.view(req)))

    def notify(self, event: RequestEvent) -> None:
        try:
            self.notifier.notify(event)
        except Exception:  # a front end that cannot hear must never stop a restart half-way
            log.exception("notifier_failed", request_id=event.request_id, kind=event.kind.value)

    def host_progress(self, req: Request, the_plan: Plan) -> HostProgress:
        """Turns the rollout's per-host progress into host_started / host_finished events, each with the
        request's view as it stands (the hosts finished so far), built once and copied per event."""
        view = self.view(req)
        waves = the_plan.host_waves
        wave_of = {name: index + 1 for index, wave in enumerate(waves) for name in wave}
        finished: list[HostResultView] = []

        def progress(kind: str, host: str, outcome: HostOutcome | None) -> None:
            detail: dict[str, object] = {"total": len(the_plan.hosts), "wave": wave_of.get(host), "waves": len(waves)}
            if outcome is not None:
                finished.append(HostResultView.model_validate(outcome.to_json()))
                detail.update(done=len(finished), outcome=outcome.outcome, error=outcome.error,
                              error_code=outcome.error_code, duration_ms=outcome.duration_ms)
            event_kind = EventKind.HOST_FINISHED if kind == "finished" else EventKind.HOST_STARTED
            self.notify(RequestEvent(kind=event_kind, request_id=req.id, site=req.site, rung=req.rung.value,
                                     host=host, state=req.state.value, detail=detail,
                                     request=view.model_copy(update={"hosts": list(finished)})))

        return progress
