"""Use cases: plan, request, approve, deny, execute, verify, report. Front ends call these and map
the typed errors to their medium; adapters come in through the ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from bot.app.errors import AspresetError, ConfigError, ExecutionError, NotAllowed, Refused
from bot.app.events import EventKind, RequestEvent
from bot.app.execution import HostSlots, run_plan
from bot.app.ports import Clock, DrainHooks, Executor, Notifier, Store
from bot.app.present import (
    audit_event_view,
    decision_dict,
    person,
    plan_view,
    refusal_view,
    request_view,
    site_list_view,
    status_view,
)
from bot.app.records import ApprovalStatus, NewRequest, Request, RequestState
from bot.app.results import OperationParams, StatusResult
from bot.app.verification import HostOutcome
from bot.app.views import (
    AuditView,
    HostResultView,
    PlanView,
    RefusalView,
    RequestListView,
    RequestView,
    SiteListView,
    StatusView,
)
from commands.model import RestartRequest, ServerWideRequest
from commands.rungs import Rung
from policies.decision import (
    SERVER_WIDE_WHY,
    Decision,
    NeedsApproval,
    PoolHealth,
    Refuse,
    decide,
    time_guards,
)
from policies.identity import Principal, person_of, same_person
from policies.inventory import Inventory
from policies.planner import Plan, PlanError, plan
from policies.policy import ID_PATTERN, Policy

log = structlog.get_logger("aspreset.service")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Planned:
    plan: Plan
    decision: Decision


class Service:
    def __init__(
        self,
        policy: Policy,
        inventory: Inventory,
        *,
        executor: Executor,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        hooks: DrainHooks | None = None,
        host_concurrency: int = 8,
        command_timeout_s: float = 120.0,
        owner: str | None = None,
        cli_user: str | None = None,
    ) -> None:
        """Every port is given (bootstrap.build wires them); the service never checks for a missing one."""
        self.policy = policy
        self.inventory = inventory
        self.executor = executor
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.hooks = hooks
        self.slots = HostSlots(host_concurrency)  # shared by every request of this process
        self.command_timeout_s = command_timeout_s
        self.owner = owner
        self.cli_user = cli_user  # who a CLI acts as without --as (config `cli_user`)

    # ---- who --------------------------------------------------------------------------------

    def principal(self, name: str, channel: str | None = None) -> Principal:
        """A principal from an alias in [people] or an immutable ID (U..., mcp:NAME, cli:NAME)."""
        if name in self.policy.people:
            return Principal(id=self.policy.people[name], channel=channel)
        if ID_PATTERN.fullmatch(name) and not name.startswith(("S", "C", "G")):
            return Principal(id=name, channel=channel)
        known = ", ".join(sorted(self.policy.people)) or "none"
        raise ConfigError(
            f"unknown person {name!r}: use a [people] alias from {self.policy.source} ({known}) "
            "or an ID like U01ABCDEF"
        )

    def display(self, principal_id: str) -> str:
        return person(principal_id, self.policy).display

    # ---- plan -------------------------------------------------------------------------------

    def plan(self, request: RestartRequest, principal: Principal) -> PlanView:
        """The narrowest restart and the policy's decision; nothing is recorded or run."""
        planned = self._plan(request, principal)
        return plan_view(planned.plan, planned.decision, self.policy)

    def _plan(self, request: RestartRequest, principal: Principal) -> Planned:
        try:
            the_plan = plan(request, self.inventory, self.policy)
        except PlanError as error:
            raise ConfigError(str(error)) from None
        kills = self._recent_worker_kills(the_plan) if the_plan.rung == Rung.WORKER else 0
        decision = decide(the_plan, principal, self.policy, self.clock(), recent_worker_kills=kills,
                          pool_health=self._pool_health(the_plan))
        log.info("planned", site=the_plan.site, rung=the_plan.rung.value, outcome=decision.outcome,
                 requester=principal.id)
        return Planned(the_plan, decision)

    def refuse_server_wide(self, request: ServerWideRequest) -> RefusalView:
        log.info("server_wide_refused", what=request.what)
        refusal = Refuse("server rung", (f"{request.what}: {SERVER_WIDE_WHY}",), "built-in", request.alternative)
        return refusal_view(request.what, refusal, self.policy)

    def _pool_health(self, the_plan: Plan) -> list[PoolHealth]:
        """For a kill: each host's rapid-fail settings and workers (a read-only status, bounded), and the
        kills the store recorded within the pool's rapid-fail interval. A host that cannot be read adds
        nothing: the kill would fail there anyway."""
        if the_plan.rung != Rung.WORKER:
            return []
        calls = [(name, self.inventory.hosts[name], OperationParams(op="status", iis_site=the_plan.iis_site,
                                                                   app_path=the_plan.app, pool=the_plan.pool,
                                                                   timeout_s=15))
                 for name in the_plan.hosts]
        try:
            results = self.executor.run_many(calls)
        except AspresetError:  # hosts not configured to be reached (credentials, transport): the run says so
            return []
        health = []
        for (name, _, _), result in zip(calls, results, strict=True):
            if isinstance(result, StatusResult) and result.ok and result.settings is not None:
                settings = result.settings
                since = self.clock() - timedelta(seconds=settings.rapid_fail_interval_s)
                health.append(PoolHealth(name, settings.rapid_fail_protection, settings.rapid_fail_max_crashes,
                                         settings.rapid_fail_interval_s, len(result.workers),
                                         self.store.count_worker_kills(name, the_plan.pool, since)))
        return health

    def _recent_worker_kills(self, the_plan: Plan) -> int:
        since = self.clock() - timedelta(hours=1)
        return max((self.store.count_worker_kills(h, the_plan.pool, since) for h in the_plan.hosts), default=0)

    # ---- request ----------------------------------------------------------------------------

    def request(self, request: RestartRequest, principal: Principal, origin: str) -> RequestView:
        """Plan, decide, record, and run at once when allowed. Waiting requests hold their locks.
        (A dry run is `plan`: front ends call that instead.)"""
        if request.plan_only or request.dry_run:
            raise ConfigError("a dry run records nothing: ask for the plan instead")
        store = self.store
        now = self.clock()
        store.expire_due(now)
        planned = self._plan(request, principal)
        decision = planned.decision
        new = self._new_request(planned, principal, origin, request, now)
        if isinstance(decision, Refuse):
            recorded = store.record_refused(new, "; ".join(decision.reasons), now)
            self._tell(EventKind.REFUSED, recorded, principal.id)
            return self._view(recorded)
        recorded = store.create_request(new, new.default_locks(), now)
        self._tell(EventKind.CREATED, recorded, principal.id)
        if isinstance(decision, NeedsApproval):
            self._tell(EventKind.AWAITING_APPROVAL, recorded, principal.id)
            return self._view(recorded)
        return self._run(recorded.id, planned.plan)

    def _new_request(
        self, planned: Planned, principal: Principal, origin: str, request: RestartRequest, now: datetime
    ) -> NewRequest:
        the_plan, decision = planned.plan, planned.decision
        approvals, expires_at = 0, None
        approvers: tuple[str, ...] = ()
        if isinstance(decision, NeedsApproval):
            approvals, approvers = decision.approvals, decision.approvers
            expires_at = now + timedelta(seconds=decision.expires_in_s)
        return NewRequest(
            site=the_plan.site,
            rung=the_plan.rung,
            hosts=the_plan.hosts,
            pool=the_plan.pool,
            requester=principal.id,
            origin=origin,
            plan=the_plan.to_dict(),
            decision=decision_dict(decision),
            approvals_needed=approvals,
            approvers=approvers,
            expires_at=expires_at,
            requester_person=person_of(principal.id, self.policy),
            reason=request.note or (request.reason.value if request.reason else None),
        )

    # ---- approve / deny ---------------------------------------------------------------------

    def approve(self, request_id: str, principal: Principal) -> RequestView:
        store = self.store
        now = self.clock()
        store.expire_due(now)
        req = store.get(request_id)
        if principal.is_assistant:
            raise NotAllowed("an assistant can request a restart but never approve one; a person must approve")
        if req.state == RequestState.APPROVED and (
            self._may_approve(req, principal) or same_person(principal.id, req.requester, self.policy)
        ):
            # approved, but the process that should have run it stopped first: run it now (once)
            return self._run(req.id, Plan.from_dict(req.plan))
        if same_person(principal.id, req.requester, self.policy):
            raise NotAllowed(f"{self.display(principal.id)} asked for {req.id}: a second person must approve it")
        if req.state != RequestState.AWAITING_APPROVAL:
            return self._not_waiting(req)
        if not self._may_approve(req, principal):
            names = ", ".join(self.display(a) for a in req.approvers) or "nobody"
            raise NotAllowed(f"{self.display(principal.id)} is not among the approvers of {req.id} ({names})")
        the_plan = Plan.from_dict(req.plan)
        kills = self._recent_worker_kills(the_plan) if the_plan.rung == Rung.WORKER else 0
        blocked = time_guards(the_plan, self.policy, now, kills, self._pool_health(the_plan))
        if blocked is not None:  # the approval is not recorded; the request waits or expires
            raise Refused(f"{req.id} cannot run now: " + "; ".join(blocked.reasons))
        outcome = store.add_approval(req.id, principal.id, now)
        if outcome.status == ApprovalStatus.EXPIRED:
            return self._view(store.get(req.id), f"request {req.id} expired before this approval")
        if outcome.status == ApprovalStatus.NOT_AWAITING:
            return self._not_waiting(store.get(req.id))
        if outcome.status == ApprovalStatus.DUPLICATE:
            return self._view(store.get(req.id), f"{self.display(principal.id)} had already approved {req.id}")
        if not outcome.became_approved:
            self._tell(EventKind.APPROVAL_COUNTED, store.get(req.id), principal.id)
            message = f"approval counted ({len(outcome.approvals)} of {outcome.approvals_needed})"
            return self._view(store.get(req.id), message)
        self._tell(EventKind.APPROVED, store.get(req.id), principal.id)
        return self._run(req.id, the_plan)

    def deny(self, request_id: str, principal: Principal, reason: str | None) -> RequestView:
        """An approver denies; the requester (or their assistant) cancels their own request."""
        store = self.store
        now = self.clock()
        store.expire_due(now)
        req = store.get(request_id)
        if req.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
            return self._not_waiting(req)
        if same_person(principal.id, req.requester, self.policy):
            store.cancel(req.id, principal.id, now)
            self._tell(EventKind.CANCELLED, store.get(req.id), principal.id)
            return self._view(store.get(req.id), f"{req.id} cancelled by its requester")
        if principal.is_assistant or not self._may_approve(req, principal):
            raise NotAllowed(f"{self.display(principal.id)} may not deny {req.id}: only its approvers or requester can")
        if not store.deny(req.id, principal.id, reason or "no reason given", now):
            return self._not_waiting(store.get(req.id))
        self._tell(EventKind.DENIED, store.get(req.id), principal.id)
        return self._view(store.get(req.id), f"{req.id} denied by {self.display(principal.id)}")

    def _may_approve(self, req: Request, principal: Principal) -> bool:
        return any(a == principal.id or (a.startswith("S") and a in principal.groups) for a in req.approvers)

    def _not_waiting(self, req: Request) -> RequestView:
        return self._view(req, f"request {req.id} is {req.state.value}; nothing more to do")

    def _view(self, req: Request, message: str = "", *, ran_now: bool = False) -> RequestView:
        return request_view(req, self.policy, message, ran_now=ran_now)

    # ---- execute ----------------------------------------------------------------------------

    def _run(self, request_id: str, the_plan: Plan) -> RequestView:
        """Claim the request (exactly one caller wins, across processes), run it, record the result."""
        store = self.store
        if not store.claim_for_run(request_id, self.clock(), owner=self.owner):
            req = store.get(request_id)
            return self._view(req, f"{request_id} is already {req.state.value}: nothing more was run")
        started = store.get(request_id)
        self._tell(EventKind.STARTED, started)
        try:
            report = run_plan(the_plan, self.inventory, self.executor, request_id, self.command_timeout_s,
                              hooks=self.hooks, slots=self.slots, progress=self._host_progress(started, the_plan))
        except Exception as error:  # e.g. credentials missing: nothing ran on any host
            internal = "an internal error stopped the run (the bot's log has the details)"
            detail = str(error) if isinstance(error, AspresetError) else internal
            store.finish(request_id, RequestState.FAILED, {"error": detail}, self.clock())
            self._tell(EventKind.FINISHED, store.get(request_id))
            raise
        store.finish(request_id, RequestState(report.outcome), report.to_json(), self.clock())
        finished = store.get(request_id)
        self._tell(EventKind.FINISHED, finished)
        log.info("executed", request_id=request_id, site=the_plan.site, rung=the_plan.rung.value,
                 outcome=report.outcome)
        return self._view(finished, ran_now=True)

    def _host_progress(self, req: Request, the_plan: Plan) -> Callable[[str, str, HostOutcome | None], None]:
        """Turns the rollout's per-host progress into host_started / host_finished events, each with the
        request's view as it stands (the hosts finished so far), built once and copied per event."""
        view = self._view(req)
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
            self._notify(RequestEvent(kind=event_kind, request_id=req.id, site=req.site, rung=req.rung.value,
                                      host=host, state=req.state.value, detail=detail,
                                      request=view.model_copy(update={"hosts": list(finished)})))

        return progress

    def _tell(self, kind: EventKind, req: Request, by: str | None = None) -> None:
        self._notify(RequestEvent(kind=kind, request_id=req.id, site=req.site, rung=req.rung.value, by=by,
                                  state=req.state.value, request=self._view(req)))

    def _notify(self, event: RequestEvent) -> None:
        try:
            self.notifier.notify(event)
        except Exception:  # a front end that cannot hear must never stop a restart half-way
            log.exception("notifier_failed", request_id=event.request_id, kind=event.kind.value)

    # ---- read -------------------------------------------------------------------------------

    def status(self, site: str) -> StatusView:
        entry = self.inventory.sites.get(site)
        if entry is None:
            raise ConfigError(f"unknown site {site!r}; known: {', '.join(sorted(self.inventory.sites))}")
        calls = [
            (name, self.inventory.hosts[name], OperationParams(op="status", iis_site=entry.iis_site,
                                                              app_path=entry.app, pool=entry.pool))
            for name in entry.hosts
        ]
        results = self.executor.run_many(calls)
        out: list[tuple[str, StatusResult | ExecutionError]] = []
        for (name, _, _), result in zip(calls, results, strict=True):
            assert isinstance(result, StatusResult | ExecutionError)
            out.append((name, result))
        return status_view(site, out)

    def sites(self) -> SiteListView:
        return site_list_view(self.inventory)

    def get_request(self, request_id: str) -> RequestView:
        self.store.expire_due(self.clock())
        return self._view(self.store.get(request_id))

    def list_requests(self, state: str | None = None, site: str | None = None, limit: int = 100) -> RequestListView:
        try:
            wanted = RequestState(state) if state else None
        except ValueError:
            raise ConfigError(f"state {state!r}: use one of {', '.join(s.value for s in RequestState)}") from None
        self.store.expire_due(self.clock())
        return RequestListView([self._view(r) for r in self.store.list(state=wanted, site=site, limit=limit)])

    def audit(self, site: str | None = None, since: datetime | None = None,
              request_id: str | None = None) -> AuditView:
        events = self.store.audit(site=site, since=since, request_id=request_id)
        return AuditView([audit_event_view(e, self.policy) for e in events])
