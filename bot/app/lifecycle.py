"""The request lifecycle: plan, request, approve, deny or cancel, and run. Each step is recorded in
the store and heard by the Notifier; a run is claimed by exactly one caller across processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.app.before_acting import look_params, needs_look, with_host_checks
from bot.app.errors import AspresetError, ConfigError, ExecutionError, NotAllowed, Refused
from bot.app.events import EventKind
from bot.app.execution import HostSlots, resume_command, run_plan
from bot.app.heartbeat import Heartbeat
from bot.app.hosts_record import HostsRecord
from bot.app.notifications import Notifications
from bot.app.ports import Clock, DrainHooks, Executor, RunLiveness, RunsApart, Store
from bot.app.present import decision_dict, person, plan_view, refusal_view
from bot.app.records import ApprovalStatus, NewRequest, Request, RequestState
from bot.app.results import OperationResult, StatusResult
from bot.app.verification import HostOutcome
from bot.app.views import PlanView, RefusalView, RequestView
from commands.model import RestartRequest, ServerWideRequest
from commands.rungs import Rung
from policies.decision import (
    SERVER_WIDE_WHY,
    Allow,
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
from policies.policy import Policy

log = structlog.get_logger("aspreset.service")

EXERCISE_ORIGIN = "doctor-exercise"  # `aspreset doctor HOST --exercise SITE` (bot.app.readiness.exercise)
EXERCISE_WAIVER = "exercise_waives_approval"  # the policy field that lets a canary's exercise skip approval


@dataclass(frozen=True)
class Planned:
    plan: Plan
    decision: Decision


@dataclass(kw_only=True, eq=False)
class Requests:
    policy: Policy
    inventory: Inventory
    executor: Executor
    store: Store
    notifications: Notifications
    clock: Clock
    hooks: DrainHooks | None
    slots: HostSlots  # shared by every request of this process
    command_timeout_s: float
    owner: str | None  # who runs a claimed request (host/pid), in the store
    stop: threading.Event = field(default_factory=threading.Event)  # set: no further host starts (Ctrl-C)
    runs: RunsApart | None = None  # given: each run goes to a runner process apart from this one
    liveness: RunLiveness | None = None  # given: a run here renews its liveness record in the store

    def display(self, principal_id: str) -> str:
        return person(principal_id, self.policy).display

    # ---- plan -------------------------------------------------------------------------------

    def plan(self, request: RestartRequest, principal: Principal) -> PlanView:
        """The narrowest restart and the policy's decision; nothing is recorded or run."""
        planned = self._plan(request, principal)
        return plan_view(planned.plan, planned.decision, self.policy)

    def _plan(self, request: RestartRequest, principal: Principal, *, exercise: bool = False) -> Planned:
        try:
            the_plan = plan(request, self.inventory, self.policy)
        except PlanError as error:
            raise ConfigError(str(error)) from None
        decision = self._decide(the_plan, principal, [])
        looks = None if isinstance(decision, Refuse) else self._look_before_acting(the_plan)  # refused: no host
        if looks is not None:  # what the hosts show can change the plan, and a kill's pool health the decision
            the_plan = with_host_checks(the_plan, self.inventory, looks)
            decision = self._decide(the_plan, principal, self._pool_health(the_plan, looks))
        if exercise and isinstance(decision, NeedsApproval) and the_plan.site in self.policy.exercise_waives_approval:
            decision = Allow(EXERCISE_WAIVER, (f"doctor --exercise on canary site {the_plan.site}: the policy waives "
                                               f"the approval ({EXERCISE_WAIVER} in {self.policy.source})",))
        log.info("planned", site=the_plan.site, rung=the_plan.rung.value, outcome=decision.outcome,
                 requester=principal.id)
        return Planned(the_plan, decision)

    def _decide(self, the_plan: Plan, principal: Principal, health: list[PoolHealth]) -> Decision:
        kills = self._recent_worker_kills(the_plan) if the_plan.rung == Rung.WORKER else 0
        now = self.clock()
        return decide(the_plan, principal, self.policy, now, recent_worker_kills=kills, pool_health=health,
                      recent_requests=self._recent_requests(the_plan, principal, now))

    def _recent_requests(self, the_plan: Plan, principal: Principal, now: datetime) -> list[datetime]:
        """This principal's requests of this site within the policy's window, when a cap applies."""
        limits = self.policy.limits
        if limits.requests_cap(principal.is_assistant)[1] is None:
            return []
        since = now - timedelta(minutes=limits.requests_window_minutes)
        return self.store.request_times(principal.id, the_plan.site, since)

    def refuse_server_wide(self, request: ServerWideRequest) -> RefusalView:
        log.info("server_wide_refused", what=request.what)
        refusal = Refuse("server rung", (f"{request.what}: {SERVER_WIDE_WHY}",), "built-in", request.alternative)
        return refusal_view(request.what, refusal, self.policy)

    def _look_before_acting(self, the_plan: Plan) -> dict[str, OperationResult | ExecutionError] | None:
        """What the hosts show before acting, for a plan that depends on it (bot.app.before_acting): a
        read-only status per host, bounded. None: the plan does not need it; empty: this process is not
        configured to reach the hosts (a plan only; a request or approval stops at _check_hosts)."""
        if not needs_look(the_plan):
            return None
        calls = [(name, self.inventory.hosts[name], look_params(the_plan)) for name in the_plan.hosts]
        try:
            results = self.executor.run_many(calls)
        except AspresetError:  # credentials, transport: nothing was read
            return {}
        return {name: result for (name, _, _), result in zip(calls, results, strict=True)}

    def _pool_health(self, the_plan: Plan, looks: dict[str, OperationResult | ExecutionError] | None = None,
                     ) -> list[PoolHealth]:
        """For a kill: each host's rapid-fail settings, workers and recent worker failures in its System
        log (a read-only status, bounded, or the look the plan already took), and the kills the store
        recorded within the pool's rapid-fail interval. A host that cannot tell (its status or System log
        unreadable) says why: the guard then holds the kill (fail closed)."""
        if the_plan.rung != Rung.WORKER:
            return []
        if looks is None:
            looks = self._look_before_acting(the_plan) or {}
        return [self._health_of(name, the_plan.pool, result) for name, result in looks.items()]

    def _health_of(self, name: str, pool: str, result: OperationResult | ExecutionError) -> PoolHealth:
        if isinstance(result, ExecutionError):
            return PoolHealth.unknown(name, f"its status could not be read ({result.code}: {result})")
        if not isinstance(result, StatusResult) or not result.ok or result.settings is None:
            why = f"{result.error_code or 'internal'}: {result.error or 'no pool settings in the answer'}"
            return PoolHealth.unknown(name, f"its status could not be read ({why})")
        settings = result.settings
        if settings.rapid_fail_protection and result.crashes_seen is None:
            return PoolHealth.unknown(name, "the WAS events in its System log could not be read "
                                      f"({result.crashes_error or 'no reason given'})")
        since = self.clock() - timedelta(seconds=settings.rapid_fail_interval_s)
        return PoolHealth(name, settings.rapid_fail_protection, settings.rapid_fail_max_crashes,
                          settings.rapid_fail_interval_s, len(result.workers),
                          self.store.count_worker_kills(name, pool, since), result.crashes_seen or 0)

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
        planned = self._plan(request, principal, exercise=origin == EXERCISE_ORIGIN)
        decision = planned.decision
        if not isinstance(decision, Refuse):
            self._check_hosts(planned.plan)  # before anything is recorded or sent
        new = self._new_request(planned, principal, origin, request, now)
        if isinstance(decision, Refuse):
            recorded = store.record_refused(new, "; ".join(decision.reasons), now)
            self.notifications.tell(EventKind.REFUSED, recorded, principal.id)
            return self._view(recorded)
        recorded = store.create_request(new, new.default_locks(), now)
        self.notifications.tell(EventKind.CREATED, recorded, principal.id)
        if isinstance(decision, NeedsApproval):
            self.notifications.tell(EventKind.AWAITING_APPROVAL, recorded, principal.id)
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
        if req.requester.startswith("mcp:") and not principal.verified:
            # an assistant with a shell could name any approver: only a front end that checks who the
            # person is (Slack's signed requests; the CLI's terminal check) counts for its requests
            raise NotAllowed(f"{req.id} was asked for by an assistant ({req.requester}): it is approved only "
                             "in Slack, or at the bot's terminal by the approver in person (aspreset approve, "
                             "as the approver's own operating-system user)")
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
        self._check_hosts(the_plan)  # the approval is not recorded while a host cannot be reached at all
        outcome = store.add_approval(req.id, principal.id, now)
        if outcome.status == ApprovalStatus.EXPIRED:
            return self._view(store.get(req.id), f"request {req.id} expired before this approval")
        if outcome.status == ApprovalStatus.NOT_AWAITING:
            return self._not_waiting(store.get(req.id))
        if outcome.status == ApprovalStatus.DUPLICATE:
            return self._view(store.get(req.id), f"{self.display(principal.id)} had already approved {req.id}")
        if not outcome.became_approved:
            self.notifications.tell(EventKind.APPROVAL_COUNTED, store.get(req.id), principal.id)
            message = f"approval counted ({len(outcome.approvals)} of {outcome.approvals_needed})"
            return self._view(store.get(req.id), message)
        self.notifications.tell(EventKind.APPROVED, store.get(req.id), principal.id)
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
            return self._cancel(req, principal, now)
        if principal.is_assistant or not self._may_approve(req, principal):
            raise NotAllowed(f"{self.display(principal.id)} may not deny {req.id}: only its approvers or requester can")
        if not store.deny(req.id, principal.id, reason or "no reason given", now):
            return self._not_waiting(store.get(req.id))
        self.notifications.tell(EventKind.DENIED, store.get(req.id), principal.id)
        return self._view(store.get(req.id), f"{req.id} denied by {self.display(principal.id)}")

    def cancel(self, request_id: str, principal: Principal) -> RequestView:
        """The requester (or their linked assistant) withdraws their own request before it runs."""
        now = self.clock()
        self.store.expire_due(now)
        req = self.store.get(request_id)
        if req.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
            return self._not_waiting(req)
        if not same_person(principal.id, req.requester, self.policy):
            raise NotAllowed(f"{self.display(principal.id)} did not ask for {req.id}: only its requester can cancel it")
        return self._cancel(req, principal, now)

    def _cancel(self, req: Request, principal: Principal, now: datetime) -> RequestView:
        self.store.cancel(req.id, principal.id, now)
        self.notifications.tell(EventKind.CANCELLED, self.store.get(req.id), principal.id)
        return self._view(self.store.get(req.id), f"{req.id} cancelled by its requester")

    def _check_hosts(self, the_plan: Plan) -> None:
        """Every host's credentials and transport, checked without traffic: a missing variable stops
        the request before it is recorded, never after the first host restarted."""
        for name in the_plan.hosts:
            self.executor.prepare(name, self.inventory.hosts[name])

    def _view(self, req: Request, message: str = "", *, ran_now: bool = False) -> RequestView:
        return self.notifications.view(req, message, ran_now=ran_now)

    def _may_approve(self, req: Request, principal: Principal) -> bool:
        return any(a == principal.id or (a.startswith("S") and a in principal.groups) for a in req.approvers)

    def _not_waiting(self, req: Request) -> RequestView:
        return self._view(req, f"request {req.id} is {req.state.value}; nothing more to do")

    # ---- execute ----------------------------------------------------------------------------

    def run_approved(self, request_id: str) -> RequestView:
        """Run an approved request here: what a runner process (bot/runner) does with its job."""
        return self._run_here(request_id, Plan.from_dict(self.store.get(request_id).plan))

    def _run(self, request_id: str, the_plan: Plan) -> RequestView:
        if self.runs is None:
            return self._run_here(request_id, the_plan)
        view = self.runs.run(request_id, self.notifications.notify)
        if view is not None:
            return view
        return self._runner_gone(request_id)

    def _runner_gone(self, request_id: str) -> RequestView:
        """The runner ended without answering: record what that means, so nothing waits on it."""
        store, now = self.store, self.clock()
        req = store.get(request_id)
        if req.state == RequestState.RUNNING:  # it died mid-run (a hard kill): interrupted, said now
            store.mark_interrupted(now, request_id=request_id)
        elif req.state == RequestState.APPROVED and store.claim_for_run(request_id, now, owner=self.owner):
            # it never claimed the run (it could not start or read the files): nothing ran anywhere
            store.finish(request_id, RequestState.FAILED,
                         {"error": "its runner process stopped before starting the run (the bot's log says "
                                   "why); nothing ran on any host"}, now)
        else:
            return self._view(req, f"{request_id} is {req.state.value}")
        finished = store.get(request_id)
        self.notifications.tell(EventKind.FINISHED, finished)
        return self._view(finished, f"the runner of {request_id} stopped before answering")

    def _run_here(self, request_id: str, the_plan: Plan) -> RequestView:
        """Claim the request (exactly one caller wins, across processes), run it, record the result."""
        store = self.store
        if not store.claim_for_run(request_id, self.clock(), owner=self.owner):
            req = store.get(request_id)
            return self._view(req, f"{request_id} is already {req.state.value}: nothing more was run")
        started = store.get(request_id)
        self.notifications.tell(EventKind.STARTED, started)
        record = HostsRecord(store, request_id)
        seen = _HostsSeen(self.notifications.host_progress(started, the_plan), record)
        try:
            with Heartbeat(self.liveness, request_id, self.owner), record:
                report = run_plan(the_plan, self.inventory, self.executor, request_id, self.command_timeout_s,
                                  hooks=self.hooks, slots=self.slots, progress=seen, stop=self.stop,
                                  before_wave=record.wave)
        except KeyboardInterrupt:  # the operator stopped waiting: record what is known, then let it end
            store.finish(request_id, RequestState.INTERRUPTED, seen.known(the_plan), self.clock())
            self.notifications.tell(EventKind.FINISHED, store.get(request_id))
            raise
        except Exception as error:  # e.g. credentials missing: nothing ran on any host
            internal = "an internal error stopped the run (the bot's log has the details)"
            detail = str(error) if isinstance(error, AspresetError) else internal
            store.finish(request_id, RequestState.FAILED, {"error": detail}, self.clock())
            self.notifications.tell(EventKind.FINISHED, store.get(request_id))
            raise
        store.finish(request_id, RequestState(report.outcome), report.to_json(), self.clock())
        finished = store.get(request_id)
        self.notifications.tell(EventKind.FINISHED, finished)
        log.info("executed", request_id=request_id, site=the_plan.site, rung=the_plan.rung.value,
                 outcome=report.outcome)
        return self._view(finished, ran_now=True)


class _HostsSeen:
    """Passes the rollout's progress on and remembers it, so a run abandoned mid-wave is recorded
    with the hosts that finished, the ones still restarting and the ones never started."""

    def __init__(self, progress: Callable[[str, str, HostOutcome | None], None], record: HostsRecord) -> None:
        self._progress = progress
        self._record = record  # the same, in the store, for a run cut off hard
        self.started: list[str] = []
        self.finished: list[HostOutcome] = []

    def __call__(self, kind: str, host: str, outcome: HostOutcome | None) -> None:
        if kind == "started":
            self.started.append(host)
        elif outcome is not None:
            self.finished.append(outcome)
            self._record.finished(outcome)
        self._progress(kind, host, outcome)

    def known(self, the_plan: Plan) -> dict[str, Any]:
        done = {o.host for o in self.finished}
        in_flight = [h for h in self.started if h not in done]
        untouched = [h for h in the_plan.hosts if h not in done and h not in in_flight]
        where = f"; {', '.join(in_flight)} were still restarting and have no recorded result" if in_flight else ""
        return {
            "error": f"the operator stopped waiting{where}: the status of {the_plan.site} shows where they stand",
            "hosts": [o.to_json() for o in self.finished],
            "in_flight": in_flight,
            "untouched": untouched,
            "resume": resume_command(the_plan, untouched[0]) if untouched else None,
        }
