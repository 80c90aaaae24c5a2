"""Fakes for the core's ports, for tests of the service without sockets or subprocesses.

`FakeExecutor` keeps a small IIS state per host (worker PIDs per app pool, an AppDomain id per
application) and answers each operation as a script would: with the result models of
bot/app/results.py, or with an ExecutionError for a host that cannot be reached. Tests script the
next answer of a host (`fail_next`, `report_next`, `hang_next`) and read back what ran where.
The result models are made in one place (`_status_result`, `_restart_result`): when the results'
shape changes, adapt those two. `HandClock` is a clock the test moves.
The store is bot.store.MemoryStore and the notifier
bot.app.events.RecordingNotifier: real implementations of the ports, not fakes. `FakeWorld.build`
wires them all through bootstrap.build, the one composition root.

Import as `from fakes import FakeExecutor` (tests/conftest.py puts tests/ on the path).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count

from bot.app.errors import ExecutionError
from bot.app.events import RecordingNotifier
from bot.app.results import (
    Action,
    AppDomainEntry,
    DiscoveredApp,
    DiscoveredPool,
    DiscoveredSite,
    DiscoverResult,
    ErrorCode,
    Observation,
    Operation,
    OperationParams,
    OperationResult,
    PoolSettings,
    RestartResult,
    StatusResult,
    WarmupAnswer,
    WorkerProcess,
    joined_ids,
)
from bot.app.service import Service
from bot.bootstrap import build
from bot.config import Settings
from bot.store.memory import MemoryStore
from policies.inventory import Host, Inventory

STARTED = "Started"
WORKER_STARTED_AT = "2026-11-23T09:00:00Z"
WARMUP_STATUS, WARMUP_MS, DURATION_MS = 200, 40, 900
RESTARTS: tuple[Operation, ...] = ("appdomain", "apppool", "worker")


class HandClock:
    """Now, tz-aware UTC, moved only by the test."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass(frozen=True)
class _Fail:
    error: ExecutionError


@dataclass(frozen=True)
class _Report:
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class _Hang:
    """The old worker does not exit: a recycle leaves it running next to the new one."""


_Step = _Fail | _Report | _Hang


@dataclass(frozen=True)
class _Seen:
    """What one operation observed on a host: the facts a script reports."""

    state_before: str
    state_after: str
    pids_before: list[int]
    pids_after: list[int]
    appdomain_before: str | None
    appdomain_after: str | None
    restarts_before: int = 0  # the host's ASP.NET `Application Restarts` counter
    restarts_after: int = 0


@dataclass
class FakeHost:
    """One IIS server as the fake keeps it. Pool and site names are case-insensitive, as in IIS."""

    name: str
    pools: dict[str, list[int]] = field(default_factory=dict)  # casefolded pool -> worker PIDs
    appdomains: dict[tuple[str, str], str] = field(default_factory=dict)  # (site, app) casefolded -> id
    pool_names: dict[str, str] = field(default_factory=dict)  # casefolded -> as configured
    apps: dict[tuple[str, str], str] = field(default_factory=dict)  # (site, app) casefolded -> pool
    app_names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> as configured
    ran: list[OperationParams] = field(default_factory=list)
    app_restarts: int = 0
    script: deque[tuple[Operation | None, _Step]] = field(default_factory=deque)


class FakeExecutor:
    """The Executor port over in-memory hosts. Thread-safe: concurrent run_many calls see one state."""

    def __init__(self, hosts: Sequence[FakeHost]) -> None:
        self._hosts = {host.name: host for host in hosts}
        self._lock = threading.Lock()
        self._pids = count(4120, 4)
        self._appdomain_serial = count(1)

    @classmethod
    def for_inventory(cls, inventory: Inventory, workers_per_pool: int = 1) -> FakeExecutor:
        """Every host of the inventory, with each of its sites' pools running `workers_per_pool`
        workers and each application loaded in an AppDomain."""
        fake = cls([FakeHost(name) for name in inventory.hosts])
        for site in inventory.sites.values():
            for name in site.hosts:
                fake.add_app(name, site.iis_site, site.app, site.pool, workers_per_pool)
        return fake

    def add_app(self, host: str, iis_site: str, app: str, pool: str, workers: int = 1) -> None:
        with self._lock:
            state = self._hosts.setdefault(host, FakeHost(host))
            key = pool.casefold()
            state.pool_names.setdefault(key, pool)
            if key not in state.pools:
                state.pools[key] = [next(self._pids) for _ in range(workers)]
            state.apps[(iis_site.casefold(), app.casefold())] = key
            state.app_names[(iis_site.casefold(), app.casefold())] = (iis_site, app)
            state.appdomains[(iis_site.casefold(), app.casefold())] = self._new_appdomain(app)

    # -- what the test reads -------------------------------------------------------------------

    def pids(self, host: str, pool: str) -> list[int]:
        with self._lock:
            return list(self._hosts[host].pools[pool.casefold()])

    def appdomain(self, host: str, iis_site: str, app: str = "/") -> str:
        with self._lock:
            return self._hosts[host].appdomains[(iis_site.casefold(), app.casefold())]

    def ran(self, host: str, op: Operation | None = None) -> list[OperationParams]:
        """The operations run on `host` (of kind `op`), in order."""
        with self._lock:
            return [p for p in self._hosts[host].ran if op is None or p.op == op]

    def restarts(self) -> dict[str, list[Operation]]:
        """Every host's restart operations, in order (status reads left out)."""
        with self._lock:
            return {name: [p.op for p in h.ran if p.op in RESTARTS] for name, h in self._hosts.items()}

    # -- what the test scripts -----------------------------------------------------------------

    def fail_next(self, host: str, error: ExecutionError, *, op: Operation | None = None) -> None:
        """The next operation (of kind `op`) on `host` raises `error` in the executor: e.g. the
        host is unreachable. Nothing changes on the host."""
        self._plan(host, op, _Fail(error))

    def report_next(self, host: str, code: ErrorCode, message: str, *, op: Operation | None = None) -> None:
        """The next operation (of kind `op`) on `host` runs its script, which refuses with its own
        error code (ok=false): e.g. pool_stopped. Nothing changes on the host."""
        self._plan(host, op, _Report(code, message))

    def hang_next(self, host: str, *, op: Operation = "apppool") -> None:
        """The next recycle on `host` starts a new worker but the old one never exits."""
        self._plan(host, op, _Hang())

    def _plan(self, host: str, op: Operation | None, step: _Step) -> None:
        with self._lock:
            self._hosts[host].script.append((op, step))

    # -- the port ------------------------------------------------------------------------------

    def prepare(self, host_name: str, host: Host) -> None:
        """In memory there is no transport or credential source to check."""

    def run_many(
        self, calls: Sequence[tuple[str, Host, OperationParams]]
    ) -> list[OperationResult | ExecutionError]:
        return [self._run_one(name, params) for name, _, params in calls]

    def _run_one(self, name: str, params: OperationParams) -> OperationResult | ExecutionError:
        with self._lock:
            host = self._hosts[name]
            host.ran.append(params)
            step = self._next_step(host, params.op)
            if isinstance(step, _Fail):
                return step.error
            if params.op == "discover":
                return _discover_result(host)
            pool_key = host.apps.get((params.iis_site.casefold(), params.app_path.casefold()))
            if pool_key is None or (params.pool and params.pool.casefold() != pool_key):
                code: ErrorCode = "app_not_found" if pool_key is None else "pool_not_found"
                return _refusal(params, code, f"{params.iis_site}{params.app_path} / {params.pool} not on {name}")
            if isinstance(step, _Report):
                return _refusal(params, step.code, step.message)
            if params.op == "status":
                return _status_result(params, host.pools[pool_key], host.appdomains[_app_key(params)],
                                      host.app_restarts)
            return _restart_result(params, self._act(host, pool_key, params, hang=isinstance(step, _Hang)))

    def _next_step(self, host: FakeHost, op: Operation) -> _Step | None:
        for index, (wanted, step) in enumerate(host.script):
            if wanted is None or wanted == op:
                del host.script[index]
                return step
        return None

    def _act(self, host: FakeHost, pool_key: str, params: OperationParams, *, hang: bool) -> _Seen:
        """Change the host as the operation would and say what was seen before and after."""
        before = list(host.pools[pool_key])
        appdomain_before = host.appdomains[_app_key(params)]
        restarts_before = host.app_restarts
        if params.op == "appdomain":
            host.appdomains[_app_key(params)] = self._new_appdomain(params.app_path)
            host.app_restarts += 1
        else:  # apppool, worker: new worker processes, and with them new AppDomains for the pool's apps
            fresh = [next(self._pids) for _ in range(max(1, len(before)))]
            host.pools[pool_key] = (before if hang else []) + fresh
            for key, pool in host.apps.items():
                if pool == pool_key:
                    host.appdomains[key] = self._new_appdomain(key[1])
        return _Seen(STARTED, STARTED, before, list(host.pools[pool_key]), appdomain_before,
                     host.appdomains[_app_key(params)], restarts_before, host.app_restarts)

    def _new_appdomain(self, app: str) -> str:
        root = "ROOT" + ("" if app == "/" else app.rstrip("/").upper())
        return f"/LM/W3SVC/1/{root}-{next(self._appdomain_serial)}-133865280000000000"


def _app_key(params: OperationParams) -> tuple[str, str]:
    return (params.iis_site.casefold(), params.app_path.casefold())


# -- the one place that makes result models (adapt here when bot/app/results.py changes) ----------


def _workers(pids: list[int]) -> list[WorkerProcess]:
    return [WorkerProcess(pid=pid, started_at=WORKER_STARTED_AT) for pid in pids]


def _warmup(params: OperationParams) -> WarmupAnswer:
    return WarmupAnswer(url=params.warmup_url or "http://127.0.0.1:80/", host_header="shop.example.com",
                        status=WARMUP_STATUS, server="Microsoft-IIS/10.0", ms=WARMUP_MS)


def _observation(pids: list[int], appdomain: str | None, restarts: int, *, domains: bool, at_ms: int = 0,
                 state: str = STARTED) -> Observation:
    entries = [AppDomainEntry(id=appdomain, worker_pid=pids[0])] if appdomain and pids else []
    return Observation(at_ms=at_ms, pool_state=state, workers=_workers(pids),
                       appdomains=entries if domains else None, app_restarts=restarts)


def _status_result(params: OperationParams, pids: list[int], appdomain: str, restarts: int) -> StatusResult:
    seen = _observation(pids, appdomain, restarts, domains=True)
    return StatusResult(
        ok=True,
        iis_major_version=10,
        pool_state=STARTED,
        start_mode="OnDemand",
        managed_runtime="v4.0",
        workers=seen.workers,
        appdomain_id=joined_ids(seen.appdomains),
        settings=PoolSettings(),
        before=seen if params.warm_up else None,  # the none rung looks before its warm-up too
        observed=seen,
        warmups=[_warmup(params)] if params.warm_up else [],
        crashes_seen=0,  # the System log holds no failure of the pool
    )


def _restart_result(params: OperationParams, seen: _Seen) -> RestartResult:
    """What the script observed; bot.app.verification judges it (a hung recycle included)."""
    domains = params.op == "appdomain"
    still = sorted(set(seen.pids_before) & set(seen.pids_after))
    step = {"appdomain": "unload", "apppool": "recycle", "worker": "kill"}[params.op]
    return RestartResult(
        ok=True,
        op=params.op,
        method=params.method,
        settings=PoolSettings(),
        before=_observation(seen.pids_before, seen.appdomain_before, seen.restarts_before, domains=domains,
                            state=seen.state_before),
        actions=[Action(step=step, target=params.pool or params.iis_site, at_ms=10)],
        acted=_observation(seen.pids_before if domains else still, None, seen.restarts_after, domains=domains,
                           at_ms=20),
        warmups=[_warmup(params)],
        after=_observation(seen.pids_after, seen.appdomain_after, seen.restarts_after, domains=domains,
                           at_ms=DURATION_MS, state=seen.state_after),
        wait_ended="deadline" if still and not domains else "condition",
        duration_ms=DURATION_MS,
    )


def _refusal(params: OperationParams, code: ErrorCode, message: str) -> OperationResult:
    if params.op == "status":
        return StatusResult(ok=False, error_code=code, error=message)
    return RestartResult(ok=False, error_code=code, error=message, op=params.op, method=params.method)


def _discover_result(host: FakeHost) -> DiscoverResult:
    sites: dict[str, list[DiscoveredApp]] = {}
    for key, pool in sorted(host.apps.items()):
        site, app = host.app_names[key]
        sites.setdefault(site, []).append(DiscoveredApp(path=app, pool=host.pool_names[pool], physical_path=""))
    return DiscoverResult(
        ok=True,
        iis_major_version=10,
        sites=[DiscoveredSite(name=name, state=STARTED, apps=apps) for name, apps in sites.items()],
        pools=[
            DiscoveredPool(name=host.pool_names[key], state=STARTED, managed_runtime="v4.0", start_mode="OnDemand",
                           max_processes=1)
            for key in sorted(host.pools)
        ],
    )



@dataclass
class FakeWorld:
    """The service built through bootstrap.build around the fakes, with the fakes to read back."""

    service: Service
    executor: FakeExecutor
    store: MemoryStore
    notifier: RecordingNotifier
    clock: HandClock

    @classmethod
    def build(cls, settings: Settings) -> FakeWorld:
        executor, store = FakeExecutor.for_inventory(settings.inventory()), MemoryStore()
        notifier, clock = RecordingNotifier(), HandClock()
        service = build(settings, executor=executor, store=store, notifier=notifier, clock=clock).service
        return cls(service, executor, store, notifier, clock)
