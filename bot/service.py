"""Use cases: plan, request, approve, deny, execute, verify, report. Front ends call these and map
the typed errors to their medium; adapters come in through the ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from bot.errors import ConfigError
from commands.model import RestartRequest, ServerWideRequest
from policies.decision import SERVER_WIDE_WHY, Decision, Refuse, decide
from policies.identity import Principal
from policies.inventory import Inventory
from policies.planner import Plan, PlanError, plan
from policies.policy import ID_PATTERN, Policy

log = structlog.get_logger("aspreset.service")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Planned:
    plan: Plan
    decision: Decision


class Service:
    def __init__(self, policy: Policy, inventory: Inventory, clock: Clock = utc_now) -> None:
        self.policy = policy
        self.inventory = inventory
        self.clock = clock

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

    def plan(self, request: RestartRequest, principal: Principal) -> Planned:
        try:
            the_plan = plan(request, self.inventory, self.policy)
        except PlanError as error:
            raise ConfigError(str(error)) from None
        decision = decide(the_plan, principal, self.policy, self.clock())
        log.info(
            "planned",
            site=the_plan.site,
            rung=the_plan.rung.value,
            outcome=decision.outcome,
            requester=principal.id,
        )
        return Planned(the_plan, decision)

    def refuse_server_wide(self, request: ServerWideRequest) -> Refuse:
        log.info("server_wide_refused", what=request.what)
        return Refuse("server rung", (f"{request.what}: {SERVER_WIDE_WHY}",), "built-in", request.alternative)
