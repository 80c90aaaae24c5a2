"""The core as one object: the policy, the inventory and the ports, with the use cases grouped by
job — `requests` (the lifecycle), `queries` (reads), `notifications` (what the Notifier hears).
Front ends reach it through `bot.app.dispatch`; the methods here are the use cases' entry points."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from bot.app.errors import ConfigError
from bot.app.execution import HostSlots
from bot.app.lifecycle import Requests
from bot.app.notifications import Notifications
from bot.app.ports import (
    ChannelNames,
    Clock,
    DrainHooks,
    Executor,
    Metrics,
    NoMetrics,
    Notifier,
    Reread,
    RunLiveness,
    RunsApart,
    Store,
)
from bot.app.queries import Queries
from bot.app.views import AuditView, PlanView, RefusalView, RequestListView, RequestView, SiteListView, StatusView
from bot.app.watch.incidents import IncidentStore
from commands.model import RestartRequest, ServerWideRequest
from policies.identity import Principal, UnknownPerson, principal_named
from policies.inventory import Inventory
from policies.policy import Policy


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        incidents: IncidentStore | None = None,
        metrics: Metrics | None = None,
        reread: Reread | None = None,
        runs: RunsApart | None = None,
        liveness: RunLiveness | None = None,
        channel_names: ChannelNames | None = None,
    ) -> None:
        """Every port is given (bootstrap.build wires them); the service never checks for a missing one.
        `metrics` is for the health watch's probes; request events reach it through the Notifier.
        `reread`: where a running process gets its policy and inventory files again (`refresh`).
        Without `runs`, restarts run in this process; without `liveness`, nothing renews a run's record.
        `channel_names` (with a chat front end) names a site's channel for text that mentions it."""
        self._reread = reread
        self._policy = policy
        self._inventory = inventory
        self.executor = executor
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.hooks = hooks
        self.metrics = metrics or NoMetrics()
        self.channel_names = channel_names
        self.slots = HostSlots(host_concurrency)  # shared by every request of this process
        self.notifications = Notifications(notifier, policy)
        self.requests = Requests(
            policy=policy, inventory=inventory, executor=executor, store=store, notifications=self.notifications,
            clock=clock, hooks=hooks, slots=self.slots, command_timeout_s=command_timeout_s, owner=owner,
            runs=runs, liveness=liveness,
        )
        self.incidents = incidents  # the health watch's (docs/watch.md); None: no incidents are kept
        self.queries = Queries(policy=policy, inventory=inventory, executor=executor, store=store, clock=clock,
                               incidents=incidents)

    @property
    def stop(self) -> threading.Event:
        """Set, no further host of a running rollout starts (the CLI on Ctrl-C or SIGTERM)."""
        return self.requests.stop

    @property
    def policy(self) -> Policy:
        return self._policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        """A new policy (e.g. re-read from its file) holds for every use case from the next call on."""
        self._policy = self.requests.policy = self.queries.policy = self.notifications.policy = policy

    @property
    def inventory(self) -> Inventory:
        return self._inventory

    @inventory.setter
    def inventory(self, inventory: Inventory) -> None:
        """A new inventory (re-read from its file) holds for every use case from the next call on."""
        self._inventory = self.requests.inventory = self.queries.inventory = inventory

    def refresh(self) -> None:
        """Take the policy and inventory as their files say now, if they changed: a freeze added to the
        policy holds from the next command on, whichever front end brings it (dispatch calls this
        first). A file that no longer reads raises ConfigError (its file and line): the command fails
        closed, and so does every next one until the file is fixed."""
        if self._reread is None:
            return
        fresh = self._reread()
        if fresh is not None:
            self.policy, self.inventory = fresh

    def principal(self, name: str, channel: str | None = None) -> Principal:
        """A principal from an alias in [people] or an immutable ID (U..., mcp:NAME, cli:NAME)."""
        try:
            return principal_named(name, self.policy, channel)
        except UnknownPerson as error:
            raise ConfigError(str(error)) from None

    def display(self, principal_id: str) -> str:
        return self.requests.display(principal_id)

    # ---- the lifecycle ----------------------------------------------------------------------

    def plan(self, request: RestartRequest, principal: Principal) -> PlanView:
        return self.requests.plan(request, principal)

    def refuse_server_wide(self, request: ServerWideRequest) -> RefusalView:
        return self.requests.refuse_server_wide(request)

    def request(self, request: RestartRequest, principal: Principal, origin: str) -> RequestView:
        return self.requests.request(request, principal, origin)

    def approve(self, request_id: str, principal: Principal) -> RequestView:
        return self.requests.approve(request_id, principal)

    def deny(self, request_id: str, principal: Principal, reason: str | None) -> RequestView:
        return self.requests.deny(request_id, principal, reason)

    def cancel(self, request_id: str, principal: Principal) -> RequestView:
        return self.requests.cancel(request_id, principal)

    def run_approved(self, request_id: str) -> RequestView:
        return self.requests.run_approved(request_id)

    # ---- reads ------------------------------------------------------------------------------

    def status(self, site: str) -> StatusView:
        return self.queries.status(site)

    def sites(self) -> SiteListView:
        return self.queries.sites()

    def get_request(self, request_id: str) -> RequestView:
        return self.queries.get_request(request_id)

    def list_requests(self, state: str | None = None, site: str | None = None, limit: int = 100) -> RequestListView:
        return self.queries.list_requests(state, site, limit)

    def audit(self, site: str | None = None, since: datetime | None = None,
              request_id: str | None = None) -> AuditView:
        return self.queries.audit(site, since, request_id)

    def close(self) -> None:
        """Let go of the host threads (after the work on them finished); the ports are closed by
        whoever opened them (bootstrap's `Built`)."""
        self.slots.close()
