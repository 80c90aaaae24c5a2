"""The scope ladder: how much of a server a restart touches, narrowest first, and one table of what
each rung is (`LADDER`): whether it ever runs, what runs on a host, how, and what it costs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Rung(StrEnum):
    NONE = "none"
    APPDOMAIN = "appdomain"
    APPPOOL = "apppool"
    WORKER = "worker"
    SERVER = "server"

    @property
    def order(self) -> int:
        return _ORDER[self]

    def wider_than(self, other: Rung) -> bool:
        return self.order > other.order

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order < other.order

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order <= other.order

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order > other.order

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Rung):
            return NotImplemented
        return self.order >= other.order


_ORDER = {rung: index for index, rung in enumerate(Rung)}


RungOperation = Literal["status", "appdomain", "apppool", "worker"]


@dataclass(frozen=True)
class RungFacts:
    runs: bool  # whether aspreset ever runs it (the server rung: never)
    operation: RungOperation | None  # what runs on a host: `status` with a warm-up for none
    method: str | None  # how; None: chosen per site and policy (`appdomain_method`)
    summary: str  # one line for chat help
    cost: str  # what it costs the site's users, for an assistant choosing a scope


LADDER: dict[Rung, RungFacts] = {
    Rung.NONE: RungFacts(
        True, "status", "warm-up",
        "the deploy already restarted the app: warm up and verify",
        "nothing restarts; ASP.NET already restarts the app by itself when bin/ or web.config change,\n"
        "  so aspreset only warms it up and verifies. No cost.",
    ),
    Rung.APPDOMAIN: RungFacts(
        True, "appdomain", None,
        "restart one application (its AppDomain); the worker process keeps running",
        "restarts this one application (its AppDomain); the worker process and the other apps in\n"
        "  the pool keep running. Its in-memory sessions and caches are lost and the first request waits for\n"
        "  the warm-up (seconds).",
    ),
    Rung.APPPOOL: RungFacts(
        True, "apppool", "recycle",
        "graceful recycle of the pool: every app in it restarts, requests in flight finish",
        "graceful recycle of the app pool; every app in the pool restarts (the plan's blast_radius).\n"
        "  Requests in flight finish; in-memory sessions and caches of all those apps are lost.",
    ),
    Rung.WORKER: RungFacts(
        True, "worker", "kill-and-warm-up",
        "kill the pool's worker process(es) by PID and warm up: requests in flight are lost",
        "kills the pool's worker process and warms up; requests in flight for every app in the pool\n"
        "  fail. Only for a hung pool, and always after a person approves.",
    ),
    Rung.SERVER: RungFacts(
        False, None, "never run",
        "IISRESET and the like: never run by this bot",
        "IISRESET and the like; takes every site on the server down. Never run: always refused.",
    ),
}
"""Every rung's facts, read by the planner, the execution, exercise, chat help and MCP's inputs."""

EXECUTABLE_RUNGS = tuple(rung for rung in Rung if LADDER[rung].runs)


def rungs_help() -> str:
    """Chat help's `rungs` topic: one line per rung."""
    return "\n".join(f"{rung.value:<10} {LADDER[rung].summary}" for rung in Rung)


def rung_costs() -> str:
    """What each rung costs the site's users, narrowest first (an assistant's tool descriptions)."""
    lines = [f"- {rung.value}: {LADDER[rung].cost}" for rung in Rung]
    return "Rungs, narrowest first, and what each costs the site's users:\n" + "\n".join(lines)
