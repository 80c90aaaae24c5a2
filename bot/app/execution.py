"""Running an allowed plan as a rolling restart: the plan's waves one after another, the hosts of a
wave at once (up to the process-wide bound of `HostSlots`). Per host: the site's drain hook before,
one operation through the executor (the script does before-state, act, wait, warm-up and
after-state), the verdict of bot.app.verification, the drain hook after. A wave starts only when
every host of the one before is warmed up and verified; the first failed host stops the rollout
(unless the plan says keep going), and the report lists the hosts left untouched with the command
that resumes from there. Once `stop` is set (Ctrl-C, SIGTERM) no further host starts, not even one
of the current wave still waiting for a free slot; the hosts already started finish."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from queue import SimpleQueue
from typing import Any

from bot.app.errors import AspresetError, DrainFailed
from bot.app.ports import ConnectsAhead, DrainHooks, Executor
from bot.app.results import OperationParams
from bot.app.verification import HostOutcome, host_outcome
from commands.rungs import LADDER, Rung, RungOperation
from policies.inventory import DrainHook, Host, Inventory
from policies.planner import Plan

Progress = Callable[[str, str, "HostOutcome | None"], None]
"""Told ("started", host, None) as a host begins (a slot's thread took it up) and ("finished", host,
outcome) as it ends, on the thread that runs the rollout (never on a host's worker thread)."""


class HostSlots:
    """At most `size` hosts worked on at once by this process, whatever the number of requests:
    threads are made as needed up to the bound and reused, never one per host per request."""

    def __init__(self, size: int = 8) -> None:
        if size < 1:
            raise ValueError("host concurrency must be at least 1")
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="host")
        self._ahead = ThreadPoolExecutor(max_workers=min(size, 8), thread_name_prefix="connect")

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        return self._pool.submit(fn)

    def ahead(self, fn: Callable[[], None]) -> None:
        """Work that only saves time later (connecting the next wave); nobody waits for it."""
        self._ahead.submit(fn)

    def close(self) -> None:
        self._ahead.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class RunReport:
    outcome: str  # succeeded | failed | partially_failed | interrupted (stopped before every host started)
    hosts: list[HostOutcome]
    untouched: list[str] = field(default_factory=list)  # never started: the rollout stopped first
    stopped_at: str | None = None  # the first failed host, when that stopped the rollout
    resume: str | None = None  # the command (after `aspreset ` or `/recycle `) that restarts the untouched hosts
    retry: str | None = None  # the command that repeats every failed host, and only those
    waves: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "hosts": [h.to_json() for h in self.hosts],
            "untouched": list(self.untouched),
            "stopped_at": self.stopped_at,
            "resume": self.resume,
            "retry": self.retry,
            "waves": self.waves,
        }


def _operation(rung: Rung) -> RungOperation:
    operation = LADDER[rung].operation
    if operation is None:
        raise ValueError(f"the {rung.value} rung is never run")
    return operation


def operation_params(plan: Plan, host: Host, request_id: str, timeout_s: float) -> OperationParams:
    return OperationParams(
        op=_operation(plan.rung),
        request_id=request_id,
        iis_site=plan.iis_site,
        app_path=plan.app,
        pool=plan.pool,
        method="" if plan.rung == Rung.NONE else plan.method,
        fallback=plan.appdomain_fallback if plan.rung == Rung.APPDOMAIN else "",
        warm_up=plan.rung == Rung.NONE,
        warmup_url=script_warmup_url(plan, host),
        warmup_path=plan.warmup_path,
        timeout_s=timeout_s,
    )


def script_warmup_url(plan: Plan, host: Host) -> str:
    """What the script on the host requests. The script sends it to this host (127.0.0.1 or the bound
    IP) with the URL's host name as Host header, as HTTP.sys routes by it; empty lets the script use
    the site's own binding (port and host name) and the plan's warm-up path."""
    if plan.warmup_url:
        return plan.warmup_url
    if host.warmup_base_url:
        return host.warmup_base_url.rstrip("/") + plan.warmup_path
    return ""


def resume_command(plan: Plan, first_untouched: str) -> str:
    return f"recycle {plan.site} --scope {plan.rung.value} --from {first_untouched}"


def retry_command(plan: Plan, hosts: Sequence[str]) -> str:
    return f"recycle {plan.site} --scope {plan.rung.value} --host {' '.join(hosts)}"


@dataclass(frozen=True)
class _HostJob:
    """Everything one host's restart needs; `run` is what a slot's thread executes."""

    plan: Plan
    name: str
    host: Host
    params: OperationParams
    executor: Executor
    hooks: DrainHooks | None
    before: DrainHook | None
    after: DrainHook | None

    def run(self) -> HostOutcome:
        start = time.monotonic()
        try:
            return self._run(start)
        except AspresetError as error:  # e.g. its credentials are missing: this host failed, nothing ran on it
            return _failed(self.plan, self.name, error.message, error.code, start)
        except Exception as error:  # a bug must not leave the rest of the wave unfinished
            return _failed(self.plan, self.name, f"internal error ({type(error).__name__})", "internal", start)

    def _run(self, start: float) -> HostOutcome:
        if self.before is not None:
            try:
                self._hook(self.before, "before")
            except DrainFailed as error:
                return _failed(self.plan, self.name, f"{error.detail}; the host was not touched", error.code, start)
        # The none rung warms up on the host too (status with warm_up): a GET from the bot would reach
        # the load balancer or miss the site's host-header binding (docs/supported.md).
        result = self.executor.run_many([(self.name, self.host, self.params)])[0]
        outcome = host_outcome(self.plan, self.name, result, int((time.monotonic() - start) * 1000))
        if self.after is not None and outcome.outcome == "succeeded":
            try:
                self._hook(self.after, "after")
            except DrainFailed as error:
                return replace(outcome, outcome="failed", error_code=error.code,
                                error=f"restarted, but {error.detail}; the host may still be out of rotation")
        elif self.after is not None:  # a host that did not come back stays out of rotation
            return replace(outcome, error=f"{outcome.error}; left drained (the after hook was not run)")
        return outcome

    def _hook(self, hook: DrainHook, phase: str) -> None:
        assert self.hooks is not None
        values = {"host": self.name, "address": self.host.address, "site": self.plan.site,
                  "pool": self.plan.pool, "phase": phase}
        self.hooks.run(hook, values)


def run_plan(
    plan: Plan,
    inventory: Inventory,
    executor: Executor,
    request_id: str,
    timeout_s: float,
    *,
    hooks: DrainHooks | None = None,
    slots: HostSlots | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    before_wave: Callable[[Sequence[str]], None] | None = None,
) -> RunReport:
    """`stop` set (Ctrl-C, SIGTERM): no further host starts, in this wave or a later one; the hosts
    already started finish (each within its own deadline) and the rest are reported untouched.
    `before_wave` is told each wave's hosts before any of them starts (bot.app.hosts_record)."""
    if plan.rung == Rung.SERVER:  # unreachable by policy; a second lock on the door
        raise ValueError("the server rung is never executed")
    site = inventory.sites.get(plan.site)
    drain = site.drain if site is not None else None
    if drain is not None and (drain.before or drain.after) and hooks is None:
        raise ValueError(f"site {plan.site} has drain hooks but no DrainHooks adapter was given")
    waves = plan.host_waves
    own_slots = slots is None
    slots = slots or HostSlots(max((len(w) for w in waves), default=1))
    tell = progress or (lambda kind, host, outcome: None)
    outcomes: list[HostOutcome] = []
    stopped_at: str | None = None
    interrupted = False
    try:
        for index, wave in enumerate(waves):
            if stopping(stop):
                interrupted = True
                break
            jobs = [
                _HostJob(plan, name, inventory.hosts[name],
                         operation_params(plan, inventory.hosts[name], request_id, timeout_s), executor,
                         hooks, drain.before if drain else None, drain.after if drain else None)
                for name in wave
            ]
            if before_wave is not None:
                before_wave(wave)
            upcoming = waves[index + 1] if index + 1 < len(waves) else ()
            ran = _run_wave(jobs, slots, tell, partial(_connect_ahead, executor, inventory, upcoming, slots, stop),
                            stop)
            outcomes += ran
            if len(ran) < len(jobs):  # stopped while some of this wave's hosts waited for a slot
                interrupted = True
                break
            failed = [o.host for o in ran if o.outcome != "succeeded"]
            if failed and not plan.keep_going and index + 1 < len(waves):
                stopped_at = failed[0]
                break
    finally:
        if own_slots:
            slots.close()
    done = {o.host for o in outcomes}
    untouched = [name for wave in waves for name in wave if name not in done]
    ok = sum(1 for o in outcomes if o.outcome == "succeeded")
    overall = "succeeded" if ok == len(plan.hosts) else "failed" if ok == 0 else "partially_failed"
    if interrupted and untouched and all(o.outcome == "succeeded" for o in outcomes):
        overall = "interrupted"  # nothing failed: the operator stopped it, and `resume` goes on from there
    failed = [o.host for o in outcomes if o.outcome != "succeeded"]
    return RunReport(
        overall,
        outcomes,
        untouched=untouched,
        stopped_at=stopped_at,
        resume=resume_command(plan, untouched[0]) if untouched else None,
        retry=retry_command(plan, failed) if failed else None,
        waves=len(waves),
    )


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _connect_ahead(executor: Executor, inventory: Inventory, hosts: Sequence[str], slots: HostSlots,
                   stop: threading.Event | None) -> None:
    """While a wave waits on its hosts (warm-ups take seconds), open the next wave's connections, so
    its hosts start at once instead of all paying the handshake at the same moment (not once the
    rollout is stopping: those hosts will not run)."""
    if not isinstance(executor, ConnectsAhead) or stopping(stop):
        return
    for name in hosts:
        slots.ahead(partial(executor.connect, name, inventory.hosts[name]))


def _run_wave(
    jobs: Sequence[_HostJob], slots: HostSlots, tell: Progress, after_start: Callable[[], None],
    stop: threading.Event | None,
) -> list[HostOutcome]:
    """Every host of the wave, at once up to the slots' bound; the outcomes of those that ran, in the
    wave's order. A host whose turn comes (a slot frees) after `stop` was set never starts. Events
    are told here, on the rollout's thread, as the hosts' threads take them up and finish them, so a
    notifier never hears two hosts at the same moment."""
    heard: SimpleQueue[tuple[int, HostOutcome | bool | None]] = SimpleQueue()  # None: started; False: not

    def take_up(position: int, job: _HostJob) -> None:  # on a slot's thread
        if stopping(stop):
            heard.put((position, False))
            return
        heard.put((position, None))
        heard.put((position, job.run()))  # never raises: a host's failure is its outcome

    # The next wave connects once a thread has taken up every host of this one: connecting earlier
    # competes for the interpreter with this wave's own start (measured: a wave of 50 started 0.1 s later).
    begun = _Countdown(len(jobs), after_start)
    for position, job in enumerate(jobs):
        slots.submit(partial(begun.then_run, partial(take_up, position, job)))
    results: list[HostOutcome | None] = [None] * len(jobs)
    left = len(jobs)
    while left:  # a started restart is always finished: no timeout here, each host call has its own
        position, heard_of = heard.get()
        if heard_of is None:
            tell("started", jobs[position].name, None)
            continue
        left -= 1
        if isinstance(heard_of, HostOutcome):
            results[position] = heard_of
            tell("finished", heard_of.host, heard_of)
    return [r for r in results if r is not None]


class _Countdown:
    """Calls `when_done` once, as a thread takes up the last of `count` tasks (on that thread)."""

    def __init__(self, count: int, when_done: Callable[[], None]) -> None:
        self._left = count
        self._when_done = when_done
        self._lock = threading.Lock()

    def then_run(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            with contextlib.suppress(Exception):  # it only saves time later: never costs this host its restart
                self._when_done()
        task()


def _failed(plan: Plan, host: str, error: str, code: str, start: float) -> HostOutcome:
    return HostOutcome(host=host, rung=plan.rung.value, method=plan.method, pids_before=[], pids_after=[],
                       appdomain_before=None, appdomain_after=None, warmup_status=None, warmup_ms=None,
                       duration_ms=int((time.monotonic() - start) * 1000), outcome="failed", error=error,
                       error_code=code)
