"""Judging what a host observed against what its rung promises (docs/iis-behaviour.md), for real hosts
and the simulator alike: the scripts only observe and act, so every rule that decides "it restarted"
lives here, once, and is tested against the simulator.

The rules hold on a real server, not only on a friendly one:
- a process is (PID, start time), because Windows reuses PIDs;
- an AppDomain restart is shown by its entry leaving the list after Unload, or an entry created by the
  warm-up where there was none; an Id that changed is extra evidence, never required (on a real
  server the Id shown is often the app's path); the `Application Restarts` counter is machine-wide,
  so it only corroborates;
- a warm-up answered by HTTP.sys itself (`Server: Microsoft-HTTPAPI/2.0`: 400 no binding matched,
  503 pool stopped or queue full, 404 nothing registered) is not the app answering, nor is a redirect
  (a native module may answer it before ASP.NET runs);
- a pool that is Stopped after the operation fails it with `pool_stopped` and what to do.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.app.errors import ExecutionError
from bot.app.results import (
    Observation,
    OperationResult,
    RestartResult,
    StatusResult,
    WarmupAnswer,
    WorkerProcess,
    joined_ids,
)
from commands.rungs import Rung
from policies.planner import Plan

HTTP_SYS = "microsoft-httpapi"
# HTTP.sys' own error pages carry a fixed line ("HTTP Error 400. The request hostname is invalid."); IIS's
# own and ASP.NET's pages say "HTTP Error 404.0 - Not Found" or nothing of the kind (docs/iis-behaviour.md).
HTTP_SYS_LINE = re.compile(r"^HTTP Error \d{3}\. ")


def answered_by_http_sys(answer: WarmupAnswer) -> bool:
    """HTTP.sys answered the request itself, not the application: by its Server header, or by its fixed
    page when DisableServerHeader hides the header."""
    return HTTP_SYS in answer.server.lower() or HTTP_SYS_LINE.match(answer.error_line) is not None


@dataclass(frozen=True)
class HostOutcome:
    host: str
    rung: str
    method: str
    pids_before: list[int]
    pids_after: list[int]
    appdomain_before: str | None
    appdomain_after: str | None
    warmup_status: int | None
    warmup_ms: int | None
    duration_ms: int
    outcome: str  # succeeded | failed
    error: str | None = None
    error_code: str | None = None
    evidence: list[str] = field(default_factory=list)  # what showed the restart happened (see EVIDENCE)
    notes: list[str] = field(default_factory=list)
    workers_before: list[dict[str, Any]] = field(default_factory=list)  # {pid, started_at}
    workers_after: list[dict[str, Any]] = field(default_factory=list)
    warmup_url: str | None = None
    warmup_server: str | None = None
    warmup_host: str | None = None  # the Host header the last warm-up was sent with
    app_offline: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# What each evidence word means, for renderers and docs.
EVIDENCE = {
    "entry_left": "the app's AppDomain entry left the list after the unload",
    "entry_back_in_same_worker": "after the warm-up an AppDomain entry is back in the same worker process",
    "entry_created": "the app had no AppDomain before; the warm-up created one",
    "restart_counter_grew": "the ASP.NET 'Application Restarts' counter grew",
    "id_changed": "the AppDomain Id changed",
    "old_workers_gone": "every worker process from before (PID and start time) has exited",
    "new_worker": "a new worker process (PID and start time) serves the pool",
    "worker_restarted": "the ASP.NET Core in-process worker (PID and start time) was replaced",
    "dotnet_child_restarted": "the out-of-process app's own process (dotnet.exe or MyApp.exe; PID and start time) was "
    "replaced",
    "app_answered": "the warm-up was answered by the application, not by HTTP.sys",
}


@dataclass(frozen=True)
class Verdict:
    error_code: str | None = None
    error: str | None = None
    evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def host_outcome(plan: Plan, host: str, result: OperationResult | ExecutionError, elapsed: int) -> HostOutcome:
    base: dict[str, Any] = {"host": host, "rung": plan.rung.value, "method": plan.method}
    if isinstance(result, ExecutionError):
        return HostOutcome(**base, pids_before=[], pids_after=[], appdomain_before=None, appdomain_after=None,
                           warmup_status=None, warmup_ms=None, duration_ms=elapsed, outcome="failed",
                           error=result.detail, error_code=result.code)
    if isinstance(result, StatusResult):  # the `none` rung: warm-up from the bot, then read state
        return _none_outcome(base, result, elapsed)
    assert isinstance(result, RestartResult)
    verdict = judge(plan.rung, plan.pool, result)
    before, after = result.before or Observation(), result.after or result.acted or result.before or Observation()
    last = result.warmups[-1] if result.warmups else None
    if result.method:
        base["method"] = result.method
    return HostOutcome(
        **base,
        pids_before=_pids(before.workers),
        pids_after=_pids(after.workers),
        appdomain_before=joined_ids(before.appdomains),
        appdomain_after=joined_ids(after.appdomains),
        warmup_status=last.status if last else None,
        warmup_ms=last.ms if last else None,
        duration_ms=result.duration_ms,
        outcome="failed" if verdict.error_code else "succeeded",
        error=verdict.error,
        error_code=verdict.error_code,
        evidence=list(verdict.evidence),
        notes=list(verdict.notes),
        workers_before=[w.model_dump() for w in before.workers],
        workers_after=[w.model_dump() for w in after.workers],
        warmup_url=last.url if last else None,
        warmup_server=last.server if last else None,
        warmup_host=last.host_header if last else None,
        app_offline=before.app_offline or after.app_offline,
    )


def judge(rung: Rung, pool: str, result: RestartResult) -> Verdict:
    """The verdict on one host's observations of a restart."""
    if not result.ok:
        return Verdict(result.error_code or "internal", result.error or "the operation failed on the host")
    after = result.after or result.acted
    if after is None and result.actions and result.look_errors:
        done = ", ".join(sorted({a.step for a in result.actions}))
        return Verdict("not_verified", f"the host did its step ({done}), but every look at the state after it "
                       f"failed ({len(result.look_errors)} tries; the last: {result.look_errors[-1]}), so nothing "
                       "shows how it ended: run `aspreset status` for the site before repeating")
    if result.wait_ended == "pool_stopped" or (after is not None and after.pool_state == "Stopped"):
        return Verdict("pool_stopped", stopped_text(pool, rung))
    warm = _judge_warmup(result.warmups[-1] if result.warmups else None, after)
    if warm.error_code:
        return warm
    if rung == Rung.APPDOMAIN:
        core = result.settings is not None and result.settings.aspnet_core
        found = _judge_core(result) if core else _judge_appdomain(result)
    else:
        found = _judge_workers(rung, result)
        if not found.error_code:
            found = _judge_answer_from_new_worker(result, found)
    retried: tuple[str, ...] = ()
    if result.look_errors:
        retried = (f"{len(result.look_errors)} look(s) at the state after the act failed and were repeated "
                   f"(the last: {result.look_errors[-1]})",)
    if result.deploy_check.startswith("unreadable"):
        retried += ("bin/ could not be listed to check for a deploy still writing to it, so the restart went on "
                    f"without that check ({result.deploy_check.removeprefix('unreadable: ')})",)
    return Verdict(found.error_code, found.error, warm.evidence + found.evidence, warm.notes + found.notes + retried)


def _judge_answer_from_new_worker(result: RestartResult, found: Verdict) -> Verdict:
    """An answer sent while an old worker still ran may be the old worker's: during an overlapped
    recycle HTTP.sys hands requests to it until the new one is ready (docs/iis-behaviour.md)."""
    last = result.warmups[-1] if result.warmups else None
    old = _keys((result.before or Observation()).workers)
    if last is None or last.workers_seen is None or not old & _keys(last.workers_seen):
        return found
    shown = ", ".join(str(pid) for pid, _ in sorted(old & _keys(last.workers_seen)))
    return Verdict("not_verified", f"the last warm-up was sent while old worker process(es) {shown} still ran, so the "
                   "old worker may have answered it (an overlapped recycle hands requests to the old worker until the "
                   "new one is ready): nothing shows the new worker answers", found.evidence, found.notes)


def stopped_text(pool: str, rung: Rung) -> str:
    kills = " (each killed worker counts as a crash)" if rung == Rung.WORKER else ""
    return (
        f"application pool {pool} is Stopped: rapid-fail protection stops a pool after repeated worker failures"
        f"{kills} (WAS event 5002 in the System log), or an operator stopped it. The site answers 503 from HTTP.sys "
        "until someone starts it: find the cause in the event logs, then start the pool (Start-WebAppPool, or "
        "appcmd start apppool); starting it blindly may crash it again"
    )


# ---- warm-up -------------------------------------------------------------------------------------


def _judge_warmup(answer: WarmupAnswer | None, after: Observation | None) -> Verdict:
    if answer is None:
        return Verdict()
    where = f"{answer.url} (Host: {answer.host_header or '-'})"
    if answer.status is None and answer.failure == "TrustFailure" and _names_an_address(answer.host_header):
        # An https binding without a host name: no certificate names 127.0.0.1 (docs/iis-behaviour.md).
        return Verdict(notes=(f"the https warm-up {where} could not validate the certificate, which cannot name the "
                              "address the binding leaves as Host; the app was not shown to answer (give the site "
                              "a warmup_url with its host name)",))
    if answer.status is None:
        return Verdict("warmup_failed", f"the warm-up {where} got no HTTP answer ({answer.failure or 'no reason'}) "
                       f"after {answer.ms} ms")
    if answered_by_http_sys(answer):
        return Verdict("warmup_failed", f"HTTP.sys answered the warm-up {where} itself: {_http_sys_meaning(answer)}")
    offline = answer.offline_page or (after is not None and after.app_offline)
    if offline:
        return Verdict("app_offline", f"app_offline.htm is present: the warm-up {where} got the offline page "
                       f"(HTTP {answer.status}), as expected while it is there; no restart helps until it is removed")
    if answer.status >= 500:
        return Verdict("warmup_failed", f"the application answered the warm-up {where} with HTTP {answer.status}: "
                       "it started but fails; check its logs")
    if 300 <= answer.status < 400:
        # URL Rewrite, httpRedirect and HSTS answer before ASP.NET runs: a redirect does not show the app
        # answered, and it may still be cold (docs/iis-behaviour.md).
        return Verdict(notes=(redirect_note(answer),))
    return Verdict(evidence=("app_answered",))


def _names_an_address(host_header: str) -> bool:
    """A Host header that is an IP address (an IPv6 one in brackets), with or without a port."""
    name = host_header.rsplit("]", 1)[0].lstrip("[") if host_header.startswith("[") else host_header.split(":")[0]
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def redirect_note(answer: WarmupAnswer) -> str:
    return (f"the warm-up got a redirect (HTTP {answer.status}) to {answer.location or '?'}, which IIS may answer "
            "itself before the application runs (URL Rewrite, httpRedirect, HSTS), so it does not show the app "
            "answered and the app may still be cold; give the site a warmup_path or warmup_url the app itself answers")


def _http_sys_meaning(answer: WarmupAnswer) -> str:
    if answer.status == 400:
        return ("400 Invalid Hostname: no binding on that address and port has the Host header "
                f"{answer.host_header!r}; give the site a warmup_url with a host name it is bound to")
    if answer.status == 503:
        return "503 Service Unavailable: the application pool is stopped or its request queue is full"
    if answer.status == 404:
        return "404: nothing is registered for that address, port and path (no binding there, or the site is stopped)"
    return f"HTTP {answer.status}"


# ---- appdomain -----------------------------------------------------------------------------------


def _judge_appdomain(result: RestartResult) -> Verdict:
    before, acted, after = result.before or Observation(), result.acted, result.after or Observation()
    evidence: list[str] = []
    notes: list[str] = []
    worker_pids = {w.pid for w in before.workers}
    ids_before = {e.id for e in before.appdomains or []}
    if before.appdomains is not None and after.appdomains is not None:
        if ids_before and acted is not None and acted.appdomains is not None and not acted.appdomains:
            evidence.append("entry_left")
        if after.appdomains and ids_before and all(e.worker_pid in worker_pids for e in after.appdomains):
            evidence.append("entry_back_in_same_worker")
        if after.appdomains and not ids_before:
            evidence.append("entry_created")
        if after.appdomains and ids_before and not ids_before & {e.id for e in after.appdomains}:
            evidence.append("id_changed")
        if not after.appdomains:
            last = result.warmups[-1] if result.warmups else None
            why = "the app did not come back (check the warm-up URL and the application's logs)"
            if last is not None and last.status is not None and 300 <= last.status < 400:
                why = redirect_note(last)
            return Verdict("appdomain_not_restarted", f"no AppDomain of the application is loaded after the warm-up: "
                           f"{why}", tuple(evidence))
    if before.app_restarts is not None and after.app_restarts is not None and after.app_restarts > before.app_restarts:
        evidence.append("restart_counter_grew")
    if _keys(before.workers) != _keys(after.workers):
        notes.append("the worker process changed too (the pool recycled meanwhile?)")
    # The counter is machine-wide: another app restarting moves it, so it only corroborates this app's own
    # evidence (docs/iis-behaviour.md).
    restarted = {"entry_left", "entry_created", "id_changed"} & set(evidence)
    if restarted:
        return Verdict(evidence=tuple(evidence), notes=tuple(notes))
    if before.appdomains is None or after.appdomains is None:
        grew = " (the machine-wide 'Application Restarts' counter grew, but another app restarting moves it too)"
        return Verdict("not_verified", f"the {result.method} step ran, but the application's AppDomain list could "
                       "not be read on this host, so nothing shows this application restarted"
                       f"{grew if 'restart_counter_grew' in evidence else ''}; install IIS Management Scripts and "
                       "Tools (Install-WindowsFeature Web-Scripting-Tools)", tuple(evidence), tuple(notes))
    counter = "" if before.app_restarts is None or "restart_counter_grew" in evidence else (
        f", 'Application Restarts' stayed {before.app_restarts}")
    return Verdict("appdomain_not_restarted", f"no sign that the AppDomain restarted: its entry never left the list"
                   f"{counter}; try --scope apppool", tuple(evidence), tuple(notes))


def _judge_core(result: RestartResult) -> Verdict:
    """ASP.NET Core under ANCM: no AppDomain; a new process start time is the evidence."""
    before, after = result.before or Observation(), result.after or Observation()
    settings = result.settings
    if settings is not None and settings.hosting_model == "outofprocess":
        old, now = _keys(before.children), _keys(after.children)
        if now and not old & now:
            names = ", ".join(str(pid) for pid, _ in sorted(now))
            return Verdict(evidence=("dotnet_child_restarted",), notes=(f"now served by process {names}",))
        if not now:
            return Verdict("appdomain_not_restarted", "no process of the app (ANCM's processPath) runs under the "
                           "worker after the warm-up: the out-of-process ASP.NET Core app did not come back (check "
                           "its stdout log)")
        return Verdict("appdomain_not_restarted", "the app's process is the same as before (PID and start time): "
                       "ANCM did not restart the app; try --scope apppool")
    old, now = _keys(before.workers), _keys(after.workers)
    if now and not old & now:
        return Verdict(evidence=("worker_restarted",))
    return Verdict("appdomain_not_restarted", "the in-process ASP.NET Core worker is the same process as before "
                   "(PID and start time): ANCM did not restart the app; try --scope apppool")


# ---- apppool / worker ----------------------------------------------------------------------------


def _judge_workers(rung: Rung, result: RestartResult) -> Verdict:
    before, after = result.before or Observation(), result.after or Observation()
    old, now = _keys(before.workers), _keys(after.workers)
    still = sorted(old & now)
    evidence: list[str] = []
    if still:
        shown = ", ".join(str(pid) for pid, _ in still)
        limit = result.settings.shutdown_time_limit_s if result.settings else 90.0
        if rung == Rung.WORKER:
            return Verdict("worker_not_stopped", f"worker process(es) {shown} still run after Stop-Process -Id")
        when = (f"past the pool's shutdownTimeLimit ({limit:g} s) and its margin, when WAS should have killed them"
                if result.wait_ended == "shutdown_time_limit" else "when the operation's deadline passed")
        return Verdict("recycle_not_finished", f"the recycle did not finish: old worker process(es) {shown} still "
                       f"running {when}; the worker rung (kill by PID, needs approval) frees a hung worker")
    if old:
        evidence.append("old_workers_gone")
    new = now - old
    if new:
        evidence.append("new_worker")
    elif result.warmups:
        return Verdict("worker_not_started", "no new worker process serves the pool after the warm-up",
                       tuple(evidence))
    notes: tuple[str, ...] = ()
    if not new:
        notes = ("no warm-up was sent: an on-demand pool starts a worker with the first request",)
    if not old:
        notes += ("the pool had no worker before (on-demand pool without traffic): nothing was stopped",)
    return Verdict(evidence=tuple(evidence), notes=notes)


# ---- none ----------------------------------------------------------------------------------------


def _none_outcome(base: dict[str, Any], result: StatusResult, elapsed: int) -> HostOutcome:
    """The `none` rung: ASP.NET restarted the app by itself; a warm-up on the host, then its state."""
    last = result.warmups[-1] if result.warmups else None
    verdict = _verify_none(result, last)
    workers = [w.model_dump() for w in result.workers]
    before = result.before or Observation()  # None: nothing was looked at before the warm-up
    return HostOutcome(**base, pids_before=_pids(before.workers), pids_after=_pids(result.workers),
                       appdomain_before=joined_ids(before.appdomains), appdomain_after=result.appdomain_id,
                       warmup_status=last.status if last else None, warmup_ms=last.ms if last else None,
                       duration_ms=elapsed, outcome="failed" if verdict.error_code else "succeeded",
                       error=verdict.error, error_code=verdict.error_code, evidence=list(verdict.evidence),
                       notes=list(verdict.notes), workers_before=[w.model_dump() for w in before.workers],
                       workers_after=workers,
                       warmup_url=last.url if last else None, warmup_server=last.server if last else None,
                       warmup_host=last.host_header if last else None,
                       app_offline=result.app_offline)


def _verify_none(result: StatusResult, answer: WarmupAnswer | None) -> Verdict:
    if not result.ok:
        return Verdict(result.error_code or "internal", result.error or "status could not be read")
    if result.app_offline:
        return Verdict("app_offline", "app_offline.htm is present: the app serves the offline page until it is "
                       "removed; no restart helps")
    if answer is None:
        return Verdict("not_verified", "no warm-up was sent, so nothing shows the app answers")
    warm = _judge_warmup(answer, result.observed)
    if warm.error_code:
        return warm
    if "app_answered" not in warm.evidence:  # the only evidence the none rung has
        return Verdict("not_verified", warm.notes[0] if warm.notes else "nothing shows the app answers", (),
                       warm.notes)
    if not result.workers:
        return Verdict("worker_not_started", "no worker process serves the pool after the warm-up")
    return warm


def _pids(workers: list[WorkerProcess]) -> list[int]:
    return sorted(w.pid for w in workers)


def _keys(workers: list[WorkerProcess]) -> set[tuple[int, str]]:
    return {(w.pid, w.started_at) for w in workers}
