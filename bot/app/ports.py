"""The interfaces the service needs. Adapters implement them; tests pass fakes."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.app.errors import ExecutionError
from bot.app.events import RequestEvent
from bot.app.records import (
    ApprovalOutcome,
    AuditEvent,
    LockKey,
    NewRequest,
    Request,
    RequestState,
)
from bot.app.results import OperationParams, OperationResult
from bot.app.views import RequestView
from policies.inventory import DrainHook, Host, Inventory
from policies.policy import Policy

Clock = Callable[[], datetime]
"""Now, tz-aware UTC. Tests pass a clock they move by hand."""

Reread = Callable[[], tuple[Policy, Inventory] | None]
"""The policy and inventory as their files say now, or None when neither changed since the last
look (bootstrap's PolicyFiles). Raises ConfigError naming the file and line of one that no longer
reads, on every look until it is fixed."""

class Notifier(Protocol):
    """Hears what happens to a request (bot.app.events): the Slack channel, CLI progress, logs.
    Called on the thread doing the work; an implementation must not raise or block for long."""

    def notify(self, event: RequestEvent) -> None: ...


class RunsApart(Protocol):
    """Runs an approved request in a worker apart from this process (bot.runner: a runner process),
    so that a rollout's host threads never compete with the front end that took the request. The
    worker claims the request, runs it and records every step in the store whatever happens to this
    process; its events come back through `hear`, on the calling thread (as the Notifier's contract
    wants). Returns the worker's answer once it ended, or None when it ended without one (killed,
    or it could not start; the bot's log says why)."""

    def run(self, request_id: str, hear: Callable[[RequestEvent], None]) -> RequestView | None: ...


class RunLiveness(Protocol):
    """A running request's sign of life in the store (bot.store.liveness), renewed by whoever runs
    it while it runs, so that the deployment's one sweeper can mark interrupted a run whose runner
    stopped renewing, whichever machine it ran on. `now` is wall-clock UTC."""

    def renew(self, request_id: str, owner: str, now: datetime, ttl_s: float) -> None: ...

    def end(self, request_id: str) -> None: ...


class Metrics(Protocol):
    """What the bot measures for `/metrics` (bot.metrics.PrometheusMetrics under `serve`; NoMetrics
    elsewhere). Labels are names from the inventory and fixed words, never free text. Must not raise
    or block: a scrape reads what was recorded."""

    def record_probe(self, site: str, host: str, outcome: str, seconds: float) -> None:
        """One health probe of `site` on `host`: its outcome (a fixed word: ok, hung, slow...) and latency."""
        ...

    def count_incidents_with(self, reader: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """`reader` answers, at each scrape, the incidents open now per (site, kind)."""
        ...

    def observe(self, event: RequestEvent) -> None:
        """A request's event (restarts by rung and outcome, their duration, the wait for approval)."""
        ...

    def count_winrm_error(self, op: str, code: str, fault: int | None) -> None:
        """A failed WinRM call: the operation, our error code, the WSManFault code if the host sent one."""
        ...


class NoMetrics:
    """Nothing measured (the CLI, tests that do not ask)."""

    def record_probe(self, site: str, host: str, outcome: str, seconds: float) -> None:
        return None

    def count_incidents_with(self, reader: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        return None

    def observe(self, event: RequestEvent) -> None:
        return None

    def count_winrm_error(self, op: str, code: str, fault: int | None) -> None:
        return None


class ChannelNames(Protocol):
    """A chat channel's name by its id, for text that names it (the Slack adapter asks Slack)."""

    def channel_name(self, channel_id: str) -> str | None:
        """The name without '#', or None when it is not known."""
        ...


class DrainHooks(Protocol):
    """Runs one of a site's drain hooks (bot.drain.hooks): a command or an HTTP call, bounded by the
    hook's timeout. `values` fill its placeholders ({host}, {address}, {site}, {pool}, {phase}).
    Raises DrainFailed saying what failed; returns when it succeeded."""

    def run(self, hook: DrainHook, values: Mapping[str, str]) -> None: ...


class Executor(Protocol):
    """Runs one operation per host (bot.winrm.WinRMExecutor): results in the order of `calls`, a
    host that failed as its ExecutionError."""

    def run_many(
        self, calls: Sequence[tuple[str, Host, OperationParams]]
    ) -> builtins.list[OperationResult | ExecutionError]: ...

    def prepare(self, host_name: str, host: Host) -> object:
        """Everything about reaching the host that can be checked without traffic (its transport,
        where its credentials come from); raises the AspresetError that says what to fix."""
        ...


@runtime_checkable
class ConnectsAhead(Protocol):
    """An executor that can open a host's connection before its operation (handshake, remote shell;
    nothing runs on the host): the rollout does it for the next wave while the current one waits.
    Never raises; a host it could not reach fails in its operation as usual."""

    def connect(self, host_name: str, host: Host) -> None: ...


class Store(Protocol):
    """Requests, approvals, per-(host, pool) locks and the audit trail (bot.store.SqlStore).
    Every method is one transaction; `now` is tz-aware UTC from the service's clock. Every state
    change writes an audit event in the same transaction. Unknown ids raise UnknownRequest."""

    def create_request(self, new: NewRequest, locks: Iterable[LockKey], now: datetime) -> Request:
        """Record it and take all its locks, or raise LockHeld and record nothing."""
        ...

    def record_refused(self, new: NewRequest, reason: str, now: datetime) -> Request: ...

    def get(self, request_id: str) -> Request: ...

    def list(
        self, state: RequestState | None = None, site: str | None = None, limit: int = 100
    ) -> builtins.list[Request]: ...

    def add_approval(self, request_id: str, approver: str, now: datetime) -> ApprovalOutcome:
        """Exactly one concurrent caller sees became_approved. Raises SelfApproval."""
        ...

    def claim_for_run(self, request_id: str, now: datetime, owner: str | None = None) -> bool:
        """approved -> running; True for exactly one caller: that caller runs it."""
        ...

    def finish(self, request_id: str, state: RequestState, result: Mapping[str, Any], now: datetime) -> bool: ...

    def record_hosts(self, request_id: str, known: Mapping[str, Any]) -> bool:
        """While it runs: what is known of its hosts so far (bot.app.hosts_record), kept as its
        result until the run's own result replaces it. False once it no longer runs."""
        ...

    def deny(self, request_id: str, by: str, reason: str, now: datetime) -> bool: ...

    def cancel(self, request_id: str, by: str, now: datetime) -> bool: ...

    def expire_due(self, now: datetime) -> builtins.list[str]: ...

    def mark_interrupted(
        self, now: datetime, owner: str | None = None, request_id: str | None = None
    ) -> builtins.list[str]:
        """Running requests -> interrupted (locks released; never re-run): all of them, or only
        those `owner` claimed, or only `request_id`."""
        ...

    def audit(
        self,
        site: str | None = None,
        since: datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[AuditEvent]: ...

    def count_worker_kills(self, host: str, pool: str, since: datetime) -> int: ...

    def request_times(self, requester: str, site: str, since: datetime) -> builtins.list[datetime]: ...

    def close(self) -> None: ...
