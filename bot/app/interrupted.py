"""What is known of an interrupted run's hosts, from the store's record alone (whichever replica,
sweeper or front end reads it): the hosts that finished, with their outcome and PIDs; the hosts that
were restarting when the run was cut off, whose state nobody knows until someone looks; the hosts
never started. And the narrow way to finish: one new request for every host not known to have
succeeded, never a host known done.

The record is what the run wrote as it went (bot.app.hosts_record: finished hosts and the hosts of
every wave begun), or what a run that saw itself stopped wrote at its end (`in_flight`, `untouched`,
`resume`: bot.app.lifecycle). No record at all (a run of an older version, or one cut off before its
first wave was recorded) leaves every host unknown: it may have been touched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.app.execution import retry_command
from bot.app.views import HostResultView
from policies.planner import Plan

UNKNOWN = "unknown"  # a host's outcome when it was restarting as the run was cut off


@dataclass(frozen=True)
class KnownHosts:
    finished: list[HostResultView]  # each with its recorded outcome, in the order they finished
    in_flight: list[str]  # restarting (or about to) when the run was cut off: state unknown
    untouched: list[str]  # never started
    retry: str | None  # the new request that finishes the run: every host not known to have succeeded
    resume: str | None  # a stop that let every started host finish: go on from the first untouched

    def host_views(self, rung: str, method: str) -> list[HostResultView]:
        """Every host, finished ones first, then the unknown ones, then those never started."""
        return [
            *self.finished,
            *(HostResultView(host=name, rung=rung, method=method, outcome=UNKNOWN, error_code="state_unknown",
                             error="it was restarting when the run was cut off: its state is unknown until the "
                                   "site's status is read") for name in self.in_flight),
            *(HostResultView(host=name, rung=rung, method=method, outcome="skipped",
                             error="not started: the run was stopped first") for name in self.untouched),
        ]


def known_hosts(hosts: tuple[str, ...], result: Mapping[str, Any] | None, plan: Plan | None) -> KnownHosts:
    """`hosts`: the request's hosts in the plan's order; `result`: what the store kept of the run."""
    result = result or {}
    finished = [HostResultView.model_validate(h) for h in result.get("hosts", ())]
    done = {h.host for h in finished}
    if "in_flight" in result or "untouched" in result:  # the run saw itself stopped and said so
        in_flight = [h for h in result.get("in_flight", ()) if h not in done]
        untouched = [h for h in result.get("untouched", ()) if h not in done]
    elif "dispatched" in result:  # written as it went, then cut off hard
        begun = set(result["dispatched"])
        in_flight = [h for h in hosts if h in begun and h not in done]
        untouched = [h for h in hosts if h not in begun and h not in done]
    else:
        in_flight, untouched = [h for h in hosts if h not in done], []
    succeeded = {h.host for h in finished if h.outcome == "succeeded"}
    pending = [h for h in hosts if h not in succeeded]
    resume = result.get("resume")
    if in_flight or not resume:
        retry = retry_command(plan, pending) if pending and plan is not None else None
        return KnownHosts(finished, in_flight, untouched, retry, None)
    return KnownHosts(finished, in_flight, untouched, result.get("retry"), resume)


def interrupted_next_step(site: str, known: KnownHosts) -> str:
    """In chat commands, as the core's next steps are."""
    parts = [f"{len(known.finished)} host{'s' if len(known.finished) != 1 else ''} finished"]
    if known.in_flight:
        parts.append(f"{', '.join(known.in_flight)} {'was' if len(known.in_flight) == 1 else 'were'} restarting "
                     f"(state unknown: check `/recycle status {site}`)")
    if known.untouched:
        parts.append(f"{len(known.untouched)} never started")
    said = f"it stopped before the end: {'; '.join(parts)}"
    if known.resume:
        return (f"{said}. Check `/recycle status {site}`, then go on with `/{known.resume}` (the hosts not yet "
                "restarted)")
    if known.retry:
        return (f"{said}. Finish with `/{known.retry}` (only the hosts not known to be done; a new request under "
                "the same policy). It is never re-run by itself")
    return f"{said}. Nothing is left to restart"
